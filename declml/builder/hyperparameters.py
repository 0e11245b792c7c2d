"""A spec's search space as KerasTuner ``HyperParameters``.

KerasTuner asks for values through ``hp.Int(...)``, ``hp.Choice(...)`` and so
on; declaring every dimension (parents before their conditional children)
records the space in the tuner's oracle and returns this trial's values,
which :func:`declml.spec.api.fix_point` turns into a concrete spec.
"""

from __future__ import annotations

from typing import Any

from declml.registry.registry import Registry
from declml.spec.sections import Spec
from declml.spec.space import search_space

__all__ = ["build_for_trial", "declare"]


def declare(hp: Any, spec: Spec) -> dict[str, Any]:
    """Declare every hyperparameter of ``spec`` on ``hp``; return the values chosen.

    Values of hyperparameters whose ``when`` condition is not met are None.
    """
    values: dict[str, Any] = {}
    for dim in search_space(spec.model_dump(mode="json")):
        h, name = dim.hyper, dim.name
        cond: dict[str, Any] = {}
        if h.when is not None:
            cond = {"parent_name": h.when[0], "parent_values": list(h.when[1])}
        p = h.params
        if h.kind == "int":
            value = hp.Int(name, p["min"], p["max"], step=p["step"],
                           sampling=p["sampling"], default=h.default, **cond)
        elif h.kind == "float":
            high = float(p["max"])
            if p["step"] is not None and p["sampling"] == "linear":
                # KerasTuner lists min + i*step up to max by floor division, which floating
                # point cuts short (0.1..0.3 step 0.1 would lose 0.3): keep the end in.
                high += p["step"] * 1e-9
            value = hp.Float(name, float(p["min"]), high, step=p["step"],
                             sampling=p["sampling"], default=h.default, **cond)
            if value is not None:  # None: its condition is not met
                value = float(f"{value:.12g}")  # 0.30000000000000004 -> 0.3
        elif h.kind == "choice":
            value = hp.Choice(name, list(p["values"]), default=h.default, **cond)
        elif h.kind == "boolean":
            value = hp.Boolean(name, default=bool(h.default), **cond)
        else:
            value = hp.Fixed(name, p["value"], **cond)
        values[name] = value
    return values


def build_for_trial(spec: Spec, hp: Any, registry: Registry | None = None) -> Any:
    """Build the model for the values ``hp`` holds (what a KerasTuner HyperModel does)."""
    from declml.builder.model import build_model
    from declml.spec.api import fix_point

    concrete, _ = fix_point(spec, declare(hp, spec), registry)
    return build_model(concrete, registry)

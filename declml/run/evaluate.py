"""``declml evaluate``: a saved model's metrics on its test split (or on other data)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from declml.data.pipeline import prepare
from declml.errors import DataError, one_line
from declml.run.saved import load_run
from declml.run.train import check_shapes

__all__ = ["evaluate"]


def evaluate(run_dir: str | Path, overrides: Iterable[str] = (), *,
             allow_local_plugins: bool | None = None, whole: bool = False,
             log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Evaluate a run's model on the test split its spec declares.

    ``overrides`` change the saved spec first, e.g. ``data.path=other.npz`` to
    evaluate on other data. Transforms are applied as saved, never refitted.
    With ``whole`` (new data given), a dataset without its own test split is
    evaluated entire instead of re-holding out a test fraction.
    Returns ``{"split": "test" | "all", "examples": N, <metric>: value, ...}``.
    """
    log = log or (lambda msg: print(msg, file=sys.stderr))
    run = load_run(run_dir, overrides, allow_local_plugins=allow_local_plugins)
    if whole and run.spec.data.options.get("test_path") is not None:
        # the new data replaces the training data and its test file alike
        options = {k: v for k, v in run.spec.data.options.items()
                   if k not in ("test_path", "test_targets")}
        run.spec = run.spec.model_copy(
            update={"data": run.spec.data.model_copy(update={"options": options})})
    data = prepare(run.spec, run.registry, log=log, pipeline=run.pipeline, whole=whole)
    check_shapes(run.model, data)
    try:
        metrics = run.model.evaluate(**data.feed(data.test, batch_size=run.spec.fit.batch_size,
                                                 name="test"), return_dict=True, verbose=0)
    except (ValueError, TypeError) as exc:
        raise DataError(f"Keras could not evaluate the model on this data: {one_line(exc)}"
                        ) from None
    split = "all" if data.info.get("evaluated_whole") else "test"
    return {"split": split, "examples": len(data.test),
            **{k: float(v) for k, v in metrics.items()}}

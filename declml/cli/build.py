"""``declml build SPEC``: build the model and print its Keras summary."""

from __future__ import annotations

from declml.cli.errors import console, err_console, guarded
from declml.cli.options import AllowLocalPlugins, Overrides, SpecPath, allow_flag


@guarded
def build(spec: SpecPath, overrides: Overrides = None,
          allow_local_plugins: AllowLocalPlugins = False) -> None:
    """Build the spec's model and print its summary (layers, output shapes, parameters)."""
    from declml.spec.api import load_spec

    parsed = load_spec(spec, overrides or [],
                         allow_local_plugins=allow_flag(allow_local_plugins))
    from declml.builder.model import build_model
    from declml.spec.space import default_point

    point = default_point(parsed.model_dump(mode="json"))
    if point:
        err_console.print(
            f"note: the spec declares a search space of {len(point)} hyperparameters; "
            "building its default point: "
            + ", ".join(f"{k}={v!r}" for k, v in point.items() if v is not None),
            markup=False, highlight=False, soft_wrap=True)
    model = build_model(parsed)
    model.summary(print_fn=lambda line, **_: console.print(line, markup=False,
                                                            highlight=False, soft_wrap=True))

"""``declml validate SPEC``: check a spec without importing Keras."""

from __future__ import annotations

from declml.cli.errors import console, guarded
from declml.cli.options import AllowLocalPlugins, Overrides, SpecPath, allow_flag


@guarded
def validate(spec: SpecPath, overrides: Overrides = None,
             allow_local_plugins: AllowLocalPlugins = False) -> None:
    """Check a spec: structure, component names and arguments. Exit 0 if valid, 2 if not."""
    from declml.spec.api import load_spec

    parsed = load_spec(spec, overrides or [],
                         allow_local_plugins=allow_flag(allow_local_plugins))
    from declml.spec.space import search_space

    layers = len(parsed.model.layers)
    space = search_space(parsed.model_dump(mode="json"))
    searched = f", search space of {len(space)} hyperparameters" if space else ""
    console.print(f"[green]✓[/] {spec}: valid — {parsed.name!r}, dataset "
                  f"{parsed.data.dataset!r}, {layers} layer{'s' if layers != 1 else ''}"
                  f"{searched}", soft_wrap=True)

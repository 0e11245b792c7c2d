"""``declml validate SPEC``: check a spec without importing Keras."""

from __future__ import annotations

from declml.cli.errors import console, guarded
from declml.cli.options import Overrides, SpecPath


@guarded
def validate(spec: SpecPath, overrides: Overrides = None) -> None:
    """Check a spec: structure, component names and arguments. Exit 0 if valid, 2 if not."""
    from declml.spec.api import load_spec

    parsed = load_spec(spec, overrides or [])
    layers = len(parsed.model.layers)
    console.print(f"[green]✓[/] {spec}: valid — {parsed.name!r}, dataset "
                  f"{parsed.data.dataset!r}, {layers} layer{'s' if layers != 1 else ''}")

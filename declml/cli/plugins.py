"""``declml plugins``: what each loaded plugin provides, and which failed to load."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from declml.cli.errors import console, guarded

# Built-in families are long (every Keras layer): list counts, not names.
_LIST_LIMIT = 12
_PLURAL = {"loss": "losses"}


def _listing(items: list[str], every: bool) -> str:
    items = sorted(items)
    if every or len(items) <= _LIST_LIMIT:
        return ", ".join(items)
    return f"{len(items)} ({', '.join(items[:5])}, ...)"


@guarded
def plugins(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    names: Annotated[bool, typer.Option(
        "--all", "-a", help="List every component name, even of the built-ins.")] = False,
) -> None:
    """List plugins: name, distribution and version, and the components each provides.

    Third-party plugins come from the 'declml' entry-point group; DECLML_PLUGINS=none
    (or a comma-separated list of names) limits which are loaded.
    """
    from declml.registry.manager import get_registry

    registry = get_registry()
    rows = []
    for info in registry.plugins.values():
        components: dict[str, list[str]] = {}
        for component in registry.of_plugin(info.name):
            components.setdefault(component.kind, []).append(component.name)
        rows.append({**info.describe(), "components": components})
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(show_header=True, show_lines=True)
    for column in ("plugin", "version", "provides"):
        table.add_column(column)
    for row in rows:
        version = row.get("version") or "-"
        where = row.get("distribution") or row["source"]
        if row.get("builtin"):
            where = "declml (built-in)"
        if row.get("error"):
            provides = f"[red]failed to load:[/] {row['error']}"
        else:
            provides = "\n".join(
                f"{_PLURAL.get(kind, kind + 's')}: {_listing(items, names)}"
                for kind, items in row["components"].items()) or "nothing"
        table.add_row(f"[bold]{row['name']}[/]\n{where}", version, provides)
    console.print(table)
    clashes = [(kind, name, clash) for kind, table_ in registry.ambiguous.items()
               for name, clash in table_.items()]
    for kind, name, clash in clashes:
        if kind == "command":
            console.print(f"[yellow]note:[/] the command {name!r} is provided by "
                          + " and ".join(repr(c.plugin) for c in clash) + "; it is left out")
            continue
        console.print(f"[yellow]note:[/] {kind} {name!r} is provided by "
                      + " and ".join(repr(c.plugin) for c in clash)
                      + "; specs must write " + " or ".join(repr(c.qualified_name)
                                                            for c in clash))

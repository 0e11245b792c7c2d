"""Subcommands contributed by plugins through ``declml_register_commands``.

The command group asks the plugins for their commands only when it lists or
runs commands, and imports a command's code only when that command is used.
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from typer.core import TyperGroup

__all__ = ["PluginCommandGroup", "plugin_commands"]


def plugin_commands() -> dict[str, Any]:
    """Command name → registered component, from installed plugins (no other hooks run)."""
    from declml.registry.manager import HOOK_FOR_KIND, third_party_plugins
    from declml.registry.registry import REGISTRARS, Registry

    staged = Registry()
    for plugin_name, plugin in third_party_plugins():  # the built-ins add no commands
        function = getattr(plugin, HOOK_FOR_KIND["command"], None)
        if function is None or not hasattr(function, "declml_impl"):
            continue
        try:
            function(REGISTRARS["command"](staged, "command", plugin_name))
        except Exception as exc:
            print(f"declml: warning: plugin {plugin_name!r} failed to register its commands: "
                  f"{type(exc).__name__}: {exc}", file=sys.stderr)
    for name, clash in staged.ambiguous["command"].items():
        print("declml: warning: plugins " + " and ".join(repr(c.plugin) for c in clash)
              + f" both register the command {name!r}; it is left out — uninstall one or "
              "limit DECLML_PLUGINS", file=sys.stderr)
    return dict(staged.tables["command"])


def _as_command(name: str, target: Any) -> Any:
    """A Typer app, a ready command object (Typer's Click), or a plain function."""
    if isinstance(target, typer.Typer):
        command = typer.main.get_command(target)
        command.name = name
        return command
    if hasattr(target, "main") and hasattr(target, "invoke"):  # a ready command object
        return target
    if callable(target):
        from declml.cli.errors import guarded

        wrapper = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        wrapper.command(name)(guarded(target))
        return typer.main.get_command(wrapper)
    raise TypeError(f"a command must be a Typer app, a command object or a function, "
                    f"not {type(target).__name__}")


class PluginCommandGroup(TyperGroup):
    """declml's own commands plus the plugins' (built-in names cannot be taken)."""

    def _plugin_commands(self) -> dict[str, Any]:
        if not hasattr(self, "_plugin_cache"):
            found = plugin_commands()
            for name in [n for n in found if n in self.commands]:
                print(f"declml: warning: plugin {found[name].plugin!r} registers a command "
                      f"{name!r}, a name declml uses itself; it is ignored", file=sys.stderr)
                del found[name]
            self._plugin_cache = found
        return self._plugin_cache

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *sorted(self._plugin_commands())]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        component = self._plugin_commands().get(cmd_name)
        if component is None:
            return None
        from declml.errors import PluginError

        try:
            command = _as_command(cmd_name, component.load())
        except (PluginError, TypeError) as exc:
            from declml.cli.errors import err_console

            err_console.print(f"[bold red]error:[/] command {cmd_name!r} from plugin "
                              f"{component.plugin!r} is broken: {exc}", markup=True)
            raise typer.Exit(2) from None
        if component.description and not command.help:
            command.help = component.description
        command.short_help = command.short_help or component.description or None
        return command

"""The one place where errors become messages and exit codes.

Exit codes: 0 success, 1 an internal error (a declml bug), 2 a user error
(bad spec, bad data, missing file, unknown component), 130 interrupted.
Set ``DECLML_DEBUG=1`` to get the full traceback instead.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from declml.errors import DeclmlError, SpecError

__all__ = ["console", "err_console", "guarded"]

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

F = TypeVar("F", bound=Callable[..., Any])


def _debug() -> bool:
    return os.environ.get("DECLML_DEBUG", "").strip() not in ("", "0", "false", "no")


def report(exc: DeclmlError) -> None:
    """Print a user error: one line, or one line per issue for spec errors."""
    if isinstance(exc, SpecError):
        head = f"{exc.origin}: " if exc.origin else ""
        n = len(exc.issues)
        err_console.print(f"[bold red]error:[/] {escape(head)}invalid spec "
                          f"({n} error{'s' if n != 1 else ''})")
        for issue in exc.issues:
            where = f"[cyan]{escape(issue.source)}[/] " if issue.source else ""
            path = f"[bold]{escape(issue.path)}[/]: " if issue.path else ""
            err_console.print(f"  {where}{path}{escape(issue.message)}", soft_wrap=True)
        return
    err_console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)


def guarded(func: F) -> F:
    """Run a command body, mapping known errors to messages and exit codes."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except DeclmlError as exc:
            if _debug():
                raise
            report(exc)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted[/]")
            raise typer.Exit(130) from None
        except Exception as exc:
            if _debug():
                raise
            err_console.print(
                f"[bold red]internal error:[/] {escape(type(exc).__name__)}: {escape(str(exc))}\n"
                "  This is a bug in declml. Rerun with DECLML_DEBUG=1 for the traceback "
                "and include it in a bug report.", soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]

"""One exception tree for everything declml reports to a user.

Every error a person can fix (a bad spec, a missing file, an unknown component)
derives from :class:`DeclmlError`; the CLI turns these into a one-line message
and exit code 2. Anything else escaping is a bug in declml.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = [
    "ArtifactError",
    "BackendError",
    "BuildError",
    "DataError",
    "DeclmlError",
    "PluginError",
    "SpecError",
    "SpecIssue",
    "TuningError",
    "UnknownComponentError",
    "one_line",
]


def one_line(exc: BaseException, limit: int = 500) -> str:
    """An exception's message on one line, without terminal colour codes, shortened."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class DeclmlError(Exception):
    """Base class of every error caused by user input rather than a declml bug."""

    exit_code = 2


class BackendError(DeclmlError):
    """No usable Keras backend (not installed, unknown name, or already fixed)."""


@dataclass(frozen=True)
class SpecIssue:
    """One problem found in a spec.

    Attributes:
        path: dotted path a person recognises, e.g. ``model.layers[2].filters``.
        message: what is wrong and, where possible, how to fix it.
        source: where the value came from: ``file:line:col`` or ``--set a.b=c``.
    """

    path: str
    message: str
    source: str | None = None

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source else ""
        path = f"{self.path}: " if self.path else ""
        return f"{where}{path}{self.message}"


@dataclass
class SpecError(DeclmlError):
    """A spec is invalid; carries every issue found, not just the first."""

    issues: Sequence[SpecIssue] = field(default_factory=list)
    origin: str | None = None

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        n = len(self.issues)
        head = f"{self.origin}: " if self.origin else ""
        head += f"invalid spec ({n} error{'s' if n != 1 else ''})"
        return "\n".join([head, *(f"  {issue}" for issue in self.issues)])


class UnknownComponentError(DeclmlError):
    """A name that no plugin registered (used outside spec validation)."""


class PluginError(DeclmlError):
    """A plugin is broken or two plugins claim the same name."""


class BuildError(DeclmlError):
    """The spec is valid but Keras refused to build the model it describes."""


class DataError(DeclmlError):
    """A dataset could not be read or does not fit the spec."""


class TuningError(DeclmlError):
    """A hyperparameter search could not be run."""


class ArtifactError(DeclmlError):
    """A run directory cannot be written or read."""

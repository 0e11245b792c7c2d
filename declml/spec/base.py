"""The strict Pydantic base every spec section derives from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

__all__ = ["CUSTOM_KINDS", "StrictModel", "raise_issues", "spec_error"]


class StrictModel(BaseModel):
    """Unknown keys are errors, never silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=False, validate_default=False)


#: Error kinds made by :func:`spec_error`; their messages already say what was received.
CUSTOM_KINDS: set[str] = set()


def spec_error(kind: str, message: str, loc: Sequence[str | int], value: Any) -> InitErrorDetails:
    """One custom line error for :func:`raise_issues` (``message`` is used verbatim)."""
    CUSTOM_KINDS.add(kind)
    return {"type": PydanticCustomError(kind, message), "loc": tuple(loc), "input": value}


def raise_issues(errors: list[InitErrorDetails], title: str = "Spec") -> None:
    """Raise all collected errors at once; Pydantic nests them under the caller's path."""
    if errors:
        raise ValidationError.from_exception_data(title, errors)

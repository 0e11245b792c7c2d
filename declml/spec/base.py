"""The strict Pydantic base every spec section derives from."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

__all__ = ["CUSTOM_KINDS", "StrictModel", "other_place", "raise_issues", "spec_error"]


class StrictModel(BaseModel):
    """Unknown keys are errors, never silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=False, validate_default=False)


#: Error kinds made by :func:`spec_error`; their messages already say what was received.
CUSTOM_KINDS: set[str] = set()


def spec_error(kind: str, message: str, loc: Sequence[str | int], value: Any) -> InitErrorDetails:
    """One custom line error for :func:`raise_issues` (``message`` is used verbatim)."""
    CUSTOM_KINDS.add(kind)
    return {"type": PydanticCustomError(kind, message), "loc": tuple(loc), "input": value}


_REF = "\x00"


def other_place(path: Sequence[str | int]) -> str:
    """Name another place in the spec inside a message; the error report adds its line.

    Errors that involve two places (a name used twice, a hyperparameter defined
    twice) show both: the error's own location and this one.
    """
    return _REF + json.dumps(list(path)) + _REF


def as_details(exc: ValidationError, prefix: Sequence[str | int] = ()) -> list[InitErrorDetails]:
    """A ValidationError's errors as details to raise again: merged with others, or nested
    under ``prefix`` (the place the inner value sits)."""
    out: list[InitErrorDetails] = []
    for e in exc.errors():
        loc = (*prefix, *e["loc"])
        if e["type"] in CUSTOM_KINDS:
            out.append(spec_error(e["type"], e["msg"], loc, e.get("input")))
        else:
            detail: dict[str, Any] = {"type": e["type"], "loc": loc, "input": e.get("input")}
            if "ctx" in e:
                detail["ctx"] = e["ctx"]
            out.append(detail)  # type: ignore[arg-type]
    return out


def raise_issues(errors: list[InitErrorDetails], title: str = "Spec") -> None:
    """Raise all collected errors at once; Pydantic nests them under the caller's path."""
    if errors:
        raise ValidationError.from_exception_data(title, errors)

"""A plugin module as a team would keep it in its repository (also loaded from a spec's
``plugins:`` list in the tests). It registers one of each kind the tests need."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from declml import hookimpl
from declml.spec.base import StrictModel

MODULE = "tests.plugin_fixtures.team_parts"
CALLS: list[tuple[str, Any]] = []


class ScaleArgs(StrictModel):
    """Multiply inputs by a learned-free constant."""

    factor: float = Field(2.0, gt=0, description="multiplies every input value")


class ShiftArgs(StrictModel):
    """Add a constant to every input."""

    by: float = Field(description="the constant")


class CountArgs(StrictModel):
    """Counts finished epochs into the run's log."""

    label: str = Field("epochs", min_length=1)


@hookimpl
def declml_register_layers(register):
    register.layer("Scale", f"{MODULE}:Scale", spec_model=ScaleArgs)


@hookimpl
def declml_register_callbacks(register):
    register.callback("CountEpochs", f"{MODULE}:count_epochs", spec_model=CountArgs)


@hookimpl
def declml_register_transforms(register):
    register.transform("shift", f"{MODULE}:Shift", spec_model=ShiftArgs)


@hookimpl
def declml_register_commands(register):
    register.command("team-hello", f"{MODULE}:hello", help="Greet the team.")


@hookimpl
def declml_model_built(model, spec):
    CALLS.append(("model_built", model.name))


@hookimpl
def declml_run_finished(run_dir: Path, spec, metrics):
    CALLS.append(("run_finished", sorted(metrics)))
    (run_dir / "team_report.txt").write_text(f"{spec.name}: {metrics}\n", encoding="utf-8")

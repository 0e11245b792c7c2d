"""``declml shapes-preview``: the function declml wraps, called directly and through Typer."""

from __future__ import annotations

import pytest


def test_preview_prints_shapes_with_class_names(capsys):
    from declml_example.cli import preview
    from declml_example.datasets import CLASS_NAMES, make_shapes

    preview(count=3, size=12, noise=0.0, seed=0, n_samples=30)
    out = capsys.readouterr().out.splitlines()
    _, labels = make_shapes(n_samples=30, size=12, noise=0.0, seed=0)
    headers = [line for line in out if line.startswith("#")]
    assert headers == [f"#{i}: {CLASS_NAMES[labels[i]]} (label {labels[i]})" for i in range(3)]
    frames = [line for line in out if line.startswith("|")]
    assert len(frames) == 3 * 12
    assert all(len(line) == 12 + 2 for line in frames)
    assert any("@" in line for line in frames)  # the filled shapes are visible


def test_preview_rejects_more_images_than_the_dataset_has():
    import typer

    from declml_example.cli import preview

    with pytest.raises(typer.BadParameter):
        preview(count=40, n_samples=30)


def test_preview_as_a_typer_command():
    import typer
    from typer.testing import CliRunner

    from declml_example.cli import preview

    app = typer.Typer()
    app.command("shapes-preview")(preview)
    app.command("other")(lambda: None)  # two commands, so the name is needed as with declml
    runner = CliRunner()
    result = runner.invoke(app, ["shapes-preview", "--count", "2", "--size", "14",
                                 "--noise", "0"])
    assert result.exit_code == 0, result.output
    assert result.output.count("(label ") == 2
    bad = runner.invoke(app, ["shapes-preview", "--size", "8"])
    assert bad.exit_code != 0

"""``declml shapes-preview``: look at the ``shapes`` dataset in a terminal.

A plain function: declml wraps it with Typer, which reads its options from
the ``Annotated`` parameters. Nothing here imports Keras.
"""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["preview", "render"]

# From dark to bright; a pixel's value in [0, 1] picks one.
_RAMP = " .:-=+*#%@"


def render(image: object) -> list[str]:
    """An image with values in [0, 1] as lines of ASCII art, framed."""
    import numpy as np

    pixels = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
    index = np.minimum((pixels * len(_RAMP)).astype(int), len(_RAMP) - 1)
    width = pixels.shape[1]
    rows = ["|" + "".join(_RAMP[i] for i in row) + "|" for row in index]
    return ["+" + "-" * width + "+", *rows, "+" + "-" * width + "+"]


def preview(
    count: Annotated[int, typer.Option("--count", "-n", min=1, max=50,
                                       help="How many images to show.")] = 3,
    size: Annotated[int, typer.Option("--size", min=12, max=64,
                                      help="Image size in pixels (the dataset's 'size').")] = 16,
    noise: Annotated[float, typer.Option("--noise", min=0.0, max=1.0,
                                         help="Pixel noise (the dataset's 'noise').")] = 0.1,
    seed: Annotated[int, typer.Option("--seed", min=0,
                                      help="Generator seed (the dataset's 'seed').")] = 0,
    n_samples: Annotated[int, typer.Option("--n-samples", min=30, max=100_000,
                                           help="Dataset size (the dataset's "
                                                "'n_samples').")] = 1500,
) -> None:
    """Print the first images of the 'shapes' dataset as ASCII art, with their class names."""
    from declml_example.datasets import CLASS_NAMES, make_shapes

    if count > n_samples:
        raise typer.BadParameter(f"--count {count} is more than --n-samples {n_samples}")
    x, y = make_shapes(n_samples=n_samples, size=size, noise=noise, seed=seed)
    for index in range(count):
        label = int(y[index])
        typer.echo(f"#{index}: {CLASS_NAMES[label]} (label {label})")
        typer.echo("\n".join(render(x[index])))

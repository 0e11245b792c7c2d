"""declml-example: a small, complete third-party plugin for declml.

It registers (see :mod:`declml_example.plugin`):

- layers ``SqueezeExcite`` and ``ResidualDense``;
- the loss ``FocalLoss`` and the metric ``MacroF1``;
- the dataset ``shapes`` (synthetic circles, squares and triangles);
- the command ``declml shapes-preview``;
- a ``model_card.md`` written into every finished run directory.

Importing this package, or its ``plugin`` module, does not import Keras or NumPy.
"""

__version__ = "0.1.0"

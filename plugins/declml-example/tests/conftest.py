"""Shared fixtures: the plugin under test, and Keras on declml's backend."""

from __future__ import annotations

import pytest

PLUGIN = "declml_example.plugin"


@pytest.fixture
def tester(declml_plugin):
    """A tester whose registry holds declml's built-ins and this plugin only."""
    return declml_plugin(PLUGIN)


@pytest.fixture(scope="session")
def keras():
    """Keras, imported the way declml does it (the backend settled first)."""
    from declml.backend import import_keras

    return import_keras()

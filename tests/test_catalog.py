"""The shipped Keras catalogue matches the installed Keras."""

from __future__ import annotations

import json

import pytest

from declml.builtins import catalog


def test_shipped_catalog_matches_installed_keras():
    shipped = json.loads(catalog.CATALOG_PATH.read_text())
    fresh = catalog.generate_catalog()
    if fresh["keras_version"] != shipped["keras_version"]:
        pytest.skip(f"catalogue is for Keras {shipped['keras_version']}, installed is "
                    f"{fresh['keras_version']} (declml regenerates it at run time)")
    assert fresh == shipped, "run: python -m declml.builtins.catalog"


def test_catalog_describes_the_seed_layers():
    data = catalog.load_catalog()
    conv = data["layers"]["Conv2D"]["params"]
    assert conv["filters"] == {"required": True}
    assert conv["padding"] == {"default": "valid"}
    assert "rank" not in conv  # supplied by Conv2D itself, not by the user
    assert "Lambda" not in data["layers"]
    assert data["metrics"]["acc"] == {"target": None, "params": {}}


def test_other_keras_version_regenerates_into_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(catalog, "_installed_keras_version", lambda: "0.0.1")
    monkeypatch.setattr(catalog, "generate_catalog", lambda: {"keras_version": "0.0.1",
                                                              "layers": {}})
    catalog.load_catalog.cache_clear()
    try:
        assert catalog.load_catalog()["keras_version"] == "0.0.1"
        assert (tmp_path / "declml" / "keras-catalog-0.0.1.json").is_file()
    finally:
        catalog.load_catalog.cache_clear()

"""The layering rules of DESIGN.md, executed: import-linter contracts and package identity."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from importlinter.cli import lint_imports

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("package", ["drivers", "hmi", "screens"])
def test_packages_resolve_to_this_repository(package: str) -> None:
    # Other distributions on the package index share these names; ours must be the one imported.
    module = importlib.import_module(package)
    assert module.__file__ is not None
    assert Path(module.__file__).resolve().parent == REPO / package


def test_import_contracts_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    assert lint_imports(config_filename="pyproject.toml", no_cache=True) == 0

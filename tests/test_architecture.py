"""The layering rules of DESIGN.md, executed: import-linter contracts and package identity."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("package", ["drivers", "hmi", "screens"])
def test_packages_resolve_to_this_repository(package: str) -> None:
    # Other distributions on the package index share these names; ours must be the one imported.
    module = importlib.import_module(package)
    assert module.__file__ is not None
    assert Path(module.__file__).resolve().parent == REPO / package


def test_import_contracts_hold() -> None:
    # in a process of its own: import-linter reconfigures logging (it disables every existing
    # logger), which would blind the log assertions of tests that run after this one
    code = (
        "from importlinter.cli import lint_imports; "
        "raise SystemExit(lint_imports(config_filename='pyproject.toml', no_cache=True))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr

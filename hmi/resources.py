"""Where the `resources/` folder is: in the source tree, or inside the PyInstaller bundle."""

from __future__ import annotations

import sys
from pathlib import Path


def resource_path(*parts: str) -> Path:
    """The path of a file or folder under `resources/`."""
    bundle = getattr(sys, "_MEIPASS", None)
    root = Path(bundle) if bundle else Path(__file__).resolve().parent.parent
    return root.joinpath("resources", *parts)


def demo_project() -> Path:
    """The folder of the built-in demo project."""
    return resource_path("demo")

"""Where the `resources/` folder is: in the source tree, or inside the PyInstaller bundle."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path


def resource_path(*parts: str) -> Path:
    """The path of a file or folder under `resources/`."""
    bundle = getattr(sys, "_MEIPASS", None)
    root = Path(bundle) if bundle else Path(__file__).resolve().parent.parent
    return root.joinpath("resources", *parts)


def data_home() -> Path:
    """This installation's data folder (certificates, buffers): $CONDUIT_HOME or XDG data."""
    explicit = os.environ.get("CONDUIT_HOME")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "conduit-hmi"


def demo_project() -> Path:
    """The folder of the built-in demo project."""
    return resource_path("demo")


def slug(text: str) -> str:
    """A lower-case, file- and topic-safe form of a name: `Demo heating` -> `demo-heating`."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "project"

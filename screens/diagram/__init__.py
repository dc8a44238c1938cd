"""Plant diagrams: live views of the project's screens (`hmi.screen_config.ScreenDef`)."""

from __future__ import annotations

from screens.diagram.synthetic import grid_screen
from screens.diagram.view import DiagramView

__all__ = ["DiagramView", "grid_screen"]

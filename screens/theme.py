"""The ISA-101 palette and QSS theme: the only place colours are defined in code."""

from __future__ import annotations

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication

from hmi.resources import resource_path

BACKGROUND = QColor("#d4d4d4")
TEXT = QColor("#1e1e1e")
TEXT_DIM = QColor("#6a6a6a")
# Bad quality is drawn distinctly and never as a plausible number (white on magenta-grey).
QUALITY_BAD_BG = QColor("#8a6d8a")
QUALITY_BAD_TEXT = QColor("#ffffff")
QUALITY_UNCERTAIN_BG = QColor("#c9bf8e")
# Alarm priorities (1 = highest), the same everywhere.
PRIORITY = {1: QColor("#d0021b"), 2: QColor("#f5a623"), 3: QColor("#f8e71c"), 4: QColor("#4a90e2")}
# Plant symbols: grey line art; a dark fill is running/open, a light fill stopped/closed.
SYMBOL_LINE = QColor("#404040")
SYMBOL_OFF = QColor("#f0f0f0")
# An equipment fault (trip, failed to start) is always alarmed: the highest priority's colour.
FAULT = PRIORITY[1]


def apply_theme(app: QApplication, name: str = "isa101") -> None:
    """Load a QSS theme from resources/themes into the application."""
    app.setStyleSheet(resource_path("themes", f"{name}.qss").read_text(encoding="utf-8"))

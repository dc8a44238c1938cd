"""The ISA-101 palette and QSS themes: the only place colours are defined in code.

Two variants: `day` (calm light grey) and `night` (dark grey for night shifts). Alarm and
quality colours are the same in both, so a priority looks the same at any hour. Switching
changes the QColor objects below in place (views keep their references and see the new
colours on their next paint) and emits `changed`, on which views with cached drawings (plant
symbols) redraw.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication

from hmi.resources import resource_path

__all__ = [
    "BACKGROUND",
    "FAULT",
    "PRIORITY",
    "QUALITY_BAD_BG",
    "QUALITY_BAD_TEXT",
    "QUALITY_UNCERTAIN_BG",
    "SYMBOL_LINE",
    "SYMBOL_OFF",
    "TEXT",
    "TEXT_DIM",
    "TREND_PENS",
    "VARIANTS",
    "apply_theme",
    "current_variant",
    "on_change",
    "priority_colour",
]

VARIANTS = ("day", "night")
FONT_POINTS = 10.0  # the stylesheets' font size
_QSS = {"day": "isa101", "night": "isa101_night"}

# name -> (day, night) for the colours that follow the variant
_NEUTRAL = {
    "BACKGROUND": ("#d4d4d4", "#3a3a3a"),
    "TEXT": ("#1e1e1e", "#e2e2e2"),
    "TEXT_DIM": ("#6a6a6a", "#9a9a9a"),
    # Plant symbols: grey line art; a dark fill is running/open, a light fill stopped/closed.
    "SYMBOL_LINE": ("#404040", "#c8c8c8"),
    "SYMBOL_OFF": ("#f0f0f0", "#4a4a4a"),
    "PIPE": ("#5a5a5a", "#a0a0a0"),
    "CANVAS": ("#d4d4d4", "#333333"),
}

BACKGROUND = QColor(_NEUTRAL["BACKGROUND"][0])
TEXT = QColor(_NEUTRAL["TEXT"][0])
TEXT_DIM = QColor(_NEUTRAL["TEXT_DIM"][0])
SYMBOL_LINE = QColor(_NEUTRAL["SYMBOL_LINE"][0])
SYMBOL_OFF = QColor(_NEUTRAL["SYMBOL_OFF"][0])
PIPE = QColor(_NEUTRAL["PIPE"][0])  # process lines on the diagrams
CANVAS = QColor(_NEUTRAL["CANVAS"][0])  # the diagrams' and charts' background
# Bad quality is drawn distinctly and never as a plausible number (white on magenta-grey).
QUALITY_BAD_BG = QColor("#8a6d8a")
QUALITY_BAD_TEXT = QColor("#ffffff")
QUALITY_UNCERTAIN_BG = QColor("#c9bf8e")
# Alarm priorities (1 = highest), the same everywhere and in both variants.
PRIORITY = {1: QColor("#d0021b"), 2: QColor("#f5a623"), 3: QColor("#f8e71c"), 4: QColor("#4a90e2")}
# An equipment fault (trip, failed to start) is always alarmed: the highest priority's colour.
FAULT = PRIORITY[1]
# Trend pens: dark, muted and far apart in hue; never red/orange/yellow (alarms) nor the
# bad-quality magenta-grey.
TREND_PENS = (
    QColor("#1f4e9c"),  # blue
    QColor("#1b7f6e"),  # teal
    QColor("#6a3d9a"),  # purple
    QColor("#7a5230"),  # brown
    QColor("#3d6b1f"),  # olive green
    QColor("#1c8fb0"),  # cyan
    QColor("#4d4d4d"),  # dark grey
    QColor("#a0527a"),  # plum
    QColor("#2f3f6f"),  # navy
    QColor("#6f7f2a"),  # moss
)


def priority_colour(priority: int) -> QColor:
    """The colour of an alarm priority as the core numbers it (4 = urgent ... 1 = low)."""
    level = min(max(int(priority), 1), 4)
    return PRIORITY[5 - level]


class _Theme(QObject):
    """The current variant; announces a switch."""

    changed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.variant = "day"


_state = _Theme()


def current_variant() -> str:
    """The current variant ("day" or "night")."""
    return _state.variant


def on_change(slot: Callable[[str], None]) -> None:
    """Call `slot(variant)` after each switch (connect a QObject's bound method)."""
    _state.changed.connect(slot)


def apply_theme(app: QApplication, variant: str = "day") -> None:
    """Load the variant's QSS from resources/themes and switch the code's colours to it."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown theme {variant!r} (one of {', '.join(VARIANTS)})")
    index = VARIANTS.index(variant)
    colours: dict[str, QColor] = globals()
    for name, pair in _NEUTRAL.items():
        colours[name].setRgba(QColor(pair[index]).rgba())
    app.setStyleSheet(resource_path("themes", f"{_QSS[variant]}.qss").read_text(encoding="utf-8"))
    font = app.font()
    if font.pointSizeF() != FONT_POINTS:  # what the stylesheet gives widgets, for drawings too
        font.setPointSizeF(FONT_POINTS)
        app.setFont(font)
    if variant != _state.variant:
        _state.variant = variant
        _state.changed.emit(variant)

"""A faceplate's value grid: per tag its description, value, unit and quality.

Bad quality is never a plausible number: the value cell says BAD (struck through, on the
bad-quality background) and the quality cell says why. Uncertain values keep their number on the
uncertain background.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtWidgets import QGridLayout, QLabel, QWidget

from hmi.tags import Quality, TagDef, Value
from screens import theme
from screens.faceplate.texts import quality_text, value_text

__all__ = ["ValueGrid"]


def _style(quality: Quality) -> str:
    if quality is Quality.BAD:
        return (
            f"background-color: {theme.QUALITY_BAD_BG.name()}; "
            f"color: {theme.QUALITY_BAD_TEXT.name()};"
        )
    if quality is Quality.UNCERTAIN:
        return f"background-color: {theme.QUALITY_UNCERTAIN_BG.name()};"
    return ""


class ValueGrid(QWidget):
    """One row per tag: tag, description, value, unit, quality."""

    def __init__(
        self, tags: Sequence[str], defs: Mapping[str, TagDef], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.tags = tuple(tags)
        self.defs = defs
        self.values: dict[str, Value] = {t: Value.initial() for t in self.tags}
        self.cells: dict[str, tuple[QLabel, QLabel, QLabel, QLabel, QLabel]] = {}
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(10)
        for row, name in enumerate(self.tags):
            tag = defs.get(name)
            cells = (
                QLabel(name, self),
                QLabel(tag.description if tag else "", self),
                QLabel(self),
                QLabel(tag.unit if tag else "", self),
                QLabel(self),
            )
            cells[1].setProperty("projectText", True)  # the project's own words, not the UI's
            cells[2].setObjectName("value")
            cells[2].setMinimumWidth(70)
            cells[4].setObjectName("quality")
            for col, cell in enumerate(cells):
                grid.addWidget(cell, row, col)
            self.cells[name] = cells
        grid.setColumnStretch(1, 1)
        self.retranslate()

    def apply(self, changes: Mapping[str, Value]) -> None:
        """Show the changed values of these tags."""
        for name in self.tags:
            value = changes.get(name)
            if value is not None:
                self.values[name] = value
                self._show(name)

    def _show(self, name: str) -> None:
        _, _, value_cell, unit_cell, quality_cell = self.cells[name]
        value = self.values[name]
        text, bad = value_text(self.defs.get(name), value)
        value_cell.setText(text)
        value_cell.setStyleSheet(_style(Quality.BAD if bad else value.quality))
        font = value_cell.font()
        font.setStrikeOut(bad)  # struck through: there is no number to trust
        value_cell.setFont(font)
        tag = self.defs.get(name)
        unit_cell.setText("" if bad or tag is None else tag.unit)
        quality_cell.setText(quality_text(value))
        value_cell.setToolTip(quality_text(value))

    def text(self, name: str) -> tuple[str, str, str]:
        """What a row shows: value, unit, quality."""
        _, _, value_cell, unit_cell, quality_cell = self.cells[name]
        return value_cell.text(), unit_cell.text(), quality_cell.text()

    def retranslate(self, _code: str = "") -> None:
        """Re-set every text in the current language."""
        for name in self.tags:
            self._show(name)

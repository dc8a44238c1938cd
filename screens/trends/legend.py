"""The trend's legend: one row per pen with a show/hide checkbox in the pen's colour, the
value at the cursor (avg, min, max of the bucket there, or the live sample), the unit, and a
button that removes the pen. A few rows, rebuilt when pens change, so a plain table widget."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem, QToolButton, QWidget

from screens import theme
from screens.i18n import tr
from screens.trends.pens import Pen

__all__ = ["COLUMNS", "PenTable", "Reading"]

COLUMNS = ("Pen", "Description", "At cursor", "Min", "Max", "Unit", "")
COL_PEN, COL_DESC, COL_VALUE, COL_MIN, COL_MAX, COL_UNIT, COL_REMOVE = range(len(COLUMNS))


@dataclass(frozen=True, slots=True)
class Reading:
    """What the read-out shows for one pen: the value, min and max texts, and if it is bad."""

    value: str = ""
    low: str = ""
    high: str = ""
    bad: bool = False


class PenTable(QTableWidget):
    """Legend and cursor read-out of a trend."""

    def __init__(
        self,
        on_toggle: Callable[[str, bool], None],
        on_remove: Callable[[str], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setObjectName("trendLegend")
        self._on_toggle = on_toggle
        self._on_remove = on_remove
        self._names: list[str] = []
        self._filling = False
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(22)
        self.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        header = self.horizontalHeader()
        header.setSectionResizeMode(COL_DESC, QHeaderView.ResizeMode.Stretch)
        for col, width in ((COL_PEN, 170), (COL_VALUE, 100), (COL_MIN, 90), (COL_MAX, 90)):
            self.setColumnWidth(col, width)
        self.setColumnWidth(COL_UNIT, 60)
        self.setColumnWidth(COL_REMOVE, 30)
        self.itemChanged.connect(self._changed)
        self.retranslate()

    def retranslate(self, _code: str = "") -> None:
        """Set every text in the current language."""
        self.setHorizontalHeaderLabels([tr(c) if c else "" for c in COLUMNS])
        for row in range(self.rowCount()):
            button = self.cellWidget(row, COL_REMOVE)
            if isinstance(button, QToolButton):
                button.setToolTip(tr("Remove pen"))

    def names(self) -> list[str]:
        """The pens' tag names, in row order."""
        return list(self._names)

    def set_pens(self, pens: Sequence[Pen]) -> None:
        """One row per pen (rebuilt)."""
        self._filling = True
        try:
            self.setRowCount(0)
            self._names = [pen.name for pen in pens]
            self.setRowCount(len(pens))
            for row, pen in enumerate(pens):
                self._fill_row(row, pen)
        finally:
            self._filling = False

    def _fill_row(self, row: int, pen: Pen) -> None:
        swatch = QPixmap(12, 12)
        swatch.fill(pen.colour)
        name = QTableWidgetItem(swatch, pen.name)
        name.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
        name.setCheckState(Qt.CheckState.Checked if pen.visible else Qt.CheckState.Unchecked)
        name.setToolTip(tr("Show or hide this pen"))
        self.setItem(row, COL_PEN, name)
        self.setItem(row, COL_DESC, QTableWidgetItem(pen.tag.description))
        for col in (COL_VALUE, COL_MIN, COL_MAX):
            cell = QTableWidgetItem("")
            cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.setItem(row, col, cell)
        self.setItem(row, COL_UNIT, QTableWidgetItem(pen.unit))
        button = QToolButton(self)
        button.setObjectName("removePen")
        button.setText("✕")
        button.setToolTip(tr("Remove pen"))
        button.setAutoRaise(True)
        button.clicked.connect(lambda _=False, tag=pen.name: self._on_remove(tag))
        self.setCellWidget(row, COL_REMOVE, button)

    def checkbox(self, tag: str) -> QTableWidgetItem:
        """The show/hide item of a pen."""
        item = self.item(self._names.index(tag), COL_PEN)
        assert item is not None
        return item

    def remove_button(self, tag: str) -> QToolButton:
        """The remove button of a pen."""
        button = self.cellWidget(self._names.index(tag), COL_REMOVE)
        assert isinstance(button, QToolButton)
        return button

    def _changed(self, item: QTableWidgetItem) -> None:
        if self._filling or item.column() != COL_PEN:
            return
        self._on_toggle(self._names[item.row()], item.checkState() == Qt.CheckState.Checked)

    def show_reading(self, tag: str, reading: Reading) -> None:
        """Show a pen's value at the cursor."""
        if tag not in self._names:
            return
        row = self._names.index(tag)
        self._filling = True
        try:
            texts = ((COL_VALUE, reading.value), (COL_MIN, reading.low), (COL_MAX, reading.high))
            for col, text in texts:
                cell = self.item(row, col)
                if cell is None:
                    continue
                cell.setText(text)
                if reading.bad and col == COL_VALUE:
                    cell.setBackground(theme.QUALITY_BAD_BG)
                    cell.setForeground(theme.QUALITY_BAD_TEXT)
                else:
                    cell.setData(Qt.ItemDataRole.BackgroundRole, None)
                    cell.setData(Qt.ItemDataRole.ForegroundRole, None)
        finally:
            self._filling = False

    def reading(self, tag: str) -> Reading:
        """The read-out shown for a pen."""
        row = self._names.index(tag)

        def text(col: int) -> str:
            cell = self.item(row, col)
            return "" if cell is None else cell.text()

        bad = self.item(row, COL_VALUE)
        is_bad = bad is not None and bad.background().color() == theme.QUALITY_BAD_BG
        return Reading(text(COL_VALUE), text(COL_MIN), text(COL_MAX), is_bad)

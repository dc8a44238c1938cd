"""The alarm journal as a table: one row per journaled transition, and its export to CSV / xlsx.

A query result replaces the rows (a reset: a new question, not a change). Cells are shown in the
current language; the export writes what the table shows, with times as real date-times and
numbers as numbers in the workbook.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt

from hmi.alarms.model import Transition
from hmi.client import Priority
from screens.alarms.model import priority_colour
from screens.alarms.texts import event_name, priority_name, state_name
from screens.i18n import tr
from screens.widgets.table import ColumnsTableModel

__all__ = ["COLUMNS", "JournalModel", "export_csv", "export_xlsx"]

ModelIndex = QModelIndex | QPersistentModelIndex
SortRole = Qt.ItemDataRole.UserRole

COLUMNS = (
    "Time",
    "Event",
    "Priority",
    "State",
    "Area",
    "Tag",
    "Alarm",
    "Value",
    "Limit",
    "User",
    "Comment",
)
(
    COL_TIME,
    COL_EVENT,
    COL_PRIORITY,
    COL_STATE,
    COL_AREA,
    COL_TAG,
    COL_ALARM,
    COL_VALUE,
    COL_LIMIT,
    COL_USER,
    COL_COMMENT,
) = range(len(COLUMNS))
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def cell_text(t: Transition, column: int) -> str:
    """A cell's text in the current language."""
    if column == COL_TIME:
        return datetime.fromtimestamp(t.ts).strftime(TIME_FORMAT)
    if column == COL_EVENT:
        return event_name(t.event)
    if column == COL_PRIORITY:
        return priority_name(t.priority)
    if column == COL_STATE:
        return state_name(t.state)
    if column in (COL_VALUE, COL_LIMIT):
        return _number(t.value if column == COL_VALUE else t.limit)
    plain = {COL_AREA: t.area, COL_TAG: t.tag, COL_ALARM: t.alarm, COL_USER: t.user}
    return plain.get(column, t.comment)


def cell_value(t: Transition, column: int) -> Any:
    """A cell's raw value: the time as a datetime, numbers as numbers, else the text."""
    if column == COL_TIME:
        return datetime.fromtimestamp(t.ts)
    if column == COL_VALUE:
        return t.value
    if column == COL_LIMIT:
        return t.limit
    return cell_text(t, column)


class JournalModel(ColumnsTableModel):
    """The transitions a journal query returned."""

    COLUMNS = COLUMNS

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[Transition] = []

    def row_count(self) -> int:
        """Number of rows shown."""
        return len(self._rows)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Cell text, the sort key and the priority colour of the priority cell."""
        if not index.isValid():
            return None
        t, col = self._rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return cell_text(t, col)
        if role == SortRole:
            if col == COL_TIME:
                return t.ts
            if col == COL_PRIORITY:
                return int(t.priority)
            if col in (COL_VALUE, COL_LIMIT):
                number = cell_value(t, col)
                return float("-inf") if number is None else number
            return cell_text(t, col).casefold()
        if role == Qt.ItemDataRole.BackgroundRole and col == COL_PRIORITY:
            return priority_colour(t.priority) if t.priority >= Priority.HIGH else None
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (COL_VALUE, COL_LIMIT):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def set_rows(self, rows: Iterable[Transition]) -> None:
        """Show these transitions (a new query's answer)."""
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def rows(self) -> list[Transition]:
        """The transitions shown, in query order."""
        return list(self._rows)

    def retranslate(self) -> None:
        """Redraw headers and cells in the current language."""
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(COLUMNS) - 1)
        if self._rows:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._rows) - 1, len(COLUMNS) - 1)
            )


def export_csv(path: Path, rows: Sequence[Transition]) -> None:
    """Write the transitions as CSV (UTF-8 with a BOM, so spreadsheet programs read Chinese)."""
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([tr(c) for c in COLUMNS])
        for t in rows:
            writer.writerow([cell_text(t, c) for c in range(len(COLUMNS))])


def export_xlsx(path: Path, rows: Sequence[Transition]) -> None:
    """Write the transitions as an Excel workbook: a header row, real times and numbers."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = tr("Alarm journal")
    sheet.append([tr(c) for c in COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for t in rows:
        sheet.append([cell_value(t, c) for c in range(len(COLUMNS))])
    for row in sheet.iter_rows(min_row=2, min_col=COL_TIME + 1, max_col=COL_TIME + 1):
        for cell in row:
            cell.number_format = "yyyy-mm-dd hh:mm:ss"
    widths = {COL_TIME: 20, COL_ALARM: 28, COL_TAG: 16, COL_COMMENT: 40}
    for col in range(len(COLUMNS)):
        letter = sheet.cell(row=1, column=col + 1).column_letter
        sheet.column_dimensions[letter].width = widths.get(col, 14)
    sheet.freeze_panes = "A2"
    book.save(path)

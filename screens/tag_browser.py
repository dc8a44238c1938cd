"""Tag browser: every tag with its live value, unit, quality and timestamp, filterable by name.

A `QAbstractTableModel` updated from refresh batches (`dataChanged` over the changed rows only),
behind a filter proxy. Bad values are shown as BAD on a distinct background, never as a number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from PySide6.QtCore import (
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from hmi.tags import Quality, TagDef, Value
from screens import i18n, theme
from screens.i18n import tr
from screens.refresh import Changes
from screens.widgets import values
from screens.widgets.dnd import TAG_MIME, tag_mime
from screens.widgets.table import ColumnsTableModel

# Dragging rows out (onto a trend) carries the tag names, one a line, as this type and as text.
COLUMNS = ("Tag", "Description", "Value", "Unit", "Quality", "Updated")
COL_NAME, COL_DESC, COL_VALUE, COL_UNIT, COL_QUALITY, COL_TIME = range(len(COLUMNS))
ModelIndex = QModelIndex | QPersistentModelIndex


def value_text(tag: TagDef, value: Value) -> str:
    """The value cell: the number without unit, or BAD when there is no trustworthy number."""
    return values.value_text(tag, value)[0]


class TagTableModel(ColumnsTableModel):
    """One row per tag; values updated in place from change batches."""

    COLUMNS = COLUMNS

    def __init__(self, tags: Mapping[str, TagDef], parent: Any = None) -> None:
        super().__init__(parent)
        self._tags = list(tags.values())
        self._row = {tag.name: i for i, tag in enumerate(self._tags)}
        self._values: list[Value] = [Value.initial() for _ in self._tags]
        self._mono = QFont("monospace")
        self._mono.setStyleHint(QFont.StyleHint.Monospace)

    def row_count(self) -> int:
        """Number of rows shown."""
        return len(self._tags)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Cell text, sort keys, alignment and quality colours."""
        if not index.isValid():
            return None
        tag, value, col = self._tags[index.row()], self._values[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(tag, value, col)
        if role == Qt.ItemDataRole.UserRole:  # sort key
            if col == COL_VALUE:
                return value.value if isinstance(value.value, int | float) else float("-inf")
            if col == COL_TIME:
                return value.source_ts or 0.0
            return self._display(tag, value, col)
        if role == Qt.ItemDataRole.TextAlignmentRole and col == COL_VALUE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.FontRole and col == COL_VALUE:
            return self._mono
        if col in (COL_VALUE, COL_QUALITY) and value.quality is not Quality.GOOD:
            bad = value.quality is Quality.BAD
            if role == Qt.ItemDataRole.BackgroundRole:
                return theme.QUALITY_BAD_BG if bad else theme.QUALITY_UNCERTAIN_BG
            if role == Qt.ItemDataRole.ForegroundRole:
                return theme.QUALITY_BAD_TEXT if bad else theme.TEXT
        if role == Qt.ItemDataRole.ToolTipRole and col == COL_NAME:
            return f"{tag.name}\n{tag.address or tag.expr or ''}"
        return None

    @staticmethod
    def _display(tag: TagDef, value: Value, col: int) -> str:
        if col == COL_NAME:
            return tag.name
        if col == COL_DESC:
            return tag.description
        if col == COL_VALUE:
            return value_text(tag, value)
        if col == COL_UNIT:
            return tag.unit
        if col == COL_QUALITY:
            return values.quality_text(value)
        ts = value.source_ts or (value.recv_ts or None)
        return datetime.fromtimestamp(ts).strftime("%H:%M:%S.%f")[:-3] if ts else ""

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        """Rows can be selected and dragged (onto a trend), not edited."""
        base = super().flags(index)
        return base | Qt.ItemFlag.ItemIsDragEnabled if index.isValid() else base

    def mimeTypes(self) -> list[str]:
        """What a drag of rows carries."""
        return [TAG_MIME, "text/plain"]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        """The tag names of the dragged rows (once each, in row order), one a line."""
        rows = sorted({i.row() for i in indexes if i.isValid()})
        return tag_mime(self._tags[r].name for r in rows)

    def supportedDragActions(self) -> Qt.DropAction:
        """Tags are copied out, never moved."""
        return Qt.DropAction.CopyAction

    def apply(self, changes: Changes) -> None:
        """Store changed values and repaint only their rows."""
        rows = []
        for name, value in changes.items():
            row = self._row.get(name)
            if row is not None:
                self._values[row] = value
                rows.append(row)
        if not rows:
            return
        rows.sort()
        start = prev = rows[0]
        for row in [*rows[1:], None]:
            if row is not None and row == prev + 1:
                prev = row
                continue
            self.dataChanged.emit(self.index(start, COL_VALUE), self.index(prev, COL_TIME))
            if row is not None:
                start = prev = row

    def value(self, name: str) -> Value:
        """The value the model currently shows for a tag."""
        return self._values[self._row[name]]

    def refresh_texts(self) -> None:
        """Redraw every cell (the language changed)."""
        if self.rowCount():
            last = self.index(self.rowCount() - 1, self.columnCount() - 1)
            self.dataChanged.emit(self.index(0, 0), last, [Qt.ItemDataRole.DisplayRole])

    def quality_counts(self) -> dict[Quality, int]:
        """How many tags are good, uncertain and bad."""
        counts = dict.fromkeys(Quality, 0)
        for value in self._values:
            counts[value.quality] += 1
        return counts


class TagFilter(QSortFilterProxyModel):
    """Keeps the rows whose name or description contains the filter text (any case)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._text = ""
        self.setSortRole(Qt.ItemDataRole.UserRole)

    def set_text(self, text: str) -> None:
        """Filter by this text."""
        self.beginFilterChange()
        self._text = text.strip().lower()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: ModelIndex) -> bool:
        """True when the tag matches the filter text."""
        if not self._text:
            return True
        model = self.sourceModel()
        name = model.index(source_row, COL_NAME, source_parent).data() or ""
        desc = model.index(source_row, COL_DESC, source_parent).data() or ""
        return self._text in name.lower() or self._text in desc.lower()


class TagBrowser(QWidget):
    """The tag browser screen: filter box, counts, and the live tag table."""

    def __init__(self, tags: Mapping[str, TagDef], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = TagTableModel(tags, self)
        self.proxy = TagFilter(self)
        self.proxy.setSourceModel(self.model)

        self.filter = QLineEdit(self)
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._on_filter)
        self.summary = QLabel(self)
        self.summary.setObjectName("summary")

        self.table = QTableView(self)
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.setDragEnabled(True)
        self.table.setDragDropMode(QTableView.DragDropMode.DragOnly)
        self.table.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(COL_DESC, QHeaderView.ResizeMode.Stretch)
        for col, width in (
            (COL_NAME, 190),
            (COL_VALUE, 110),
            (COL_UNIT, 60),
            (COL_QUALITY, 170),
            (COL_TIME, 110),
        ):
            self.table.setColumnWidth(col, width)

        top = QHBoxLayout()
        top.addWidget(self.filter, 1)
        top.addWidget(self.summary)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        i18n.on_change(self.retranslate)
        self.retranslate()

    def retranslate(self, _code: str = "") -> None:
        """Re-set every text in the current language."""
        self.filter.setPlaceholderText(tr("Filter tags by name or description"))
        self.model.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(COLUMNS) - 1)
        self.model.refresh_texts()
        self._update_summary()

    def apply(self, changes: Changes) -> None:
        """Show a batch of changed values."""
        self.model.apply(changes)
        self._update_summary()

    def _on_filter(self, text: str) -> None:
        self.proxy.set_text(text)
        self._update_summary()

    def _update_summary(self) -> None:
        counts = self.model.quality_counts()
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        self.summary.setText(
            tr("{shown} of {total} tags · good {good} · uncertain {uncertain} · bad {bad}").format(
                shown=shown,
                total=total,
                good=counts[Quality.GOOD],
                uncertain=counts[Quality.UNCERTAIN],
                bad=counts[Quality.BAD],
            )
        )

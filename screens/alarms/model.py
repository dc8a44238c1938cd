"""The alarm panel's model: one row per alarm not normal, merged from the client's change batches.

`AlarmTableModel` holds the alarms `active_alarms()` gave and merges each batch from
`alarm_changes_since` in place (rows inserted, updated and removed, never a reset for a batch).
`AlarmFilter` narrows it by area, priority, state and free text and sorts it, most urgent first
and newest first within a priority.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor, QFont

from hmi.client import AlarmState, AlarmView, Priority
from screens import theme

ModelIndex = QModelIndex | QPersistentModelIndex

LANGUAGES = ("en", "zh_CN")
HEADERS = {
    "en": ("Priority", "State", "Time", "Area", "Tag", "Message", "Value", "Limit"),
    "zh_CN": ("优先级", "状态", "时间", "区域", "位号", "报警信息", "数值", "限值"),
}
COL_PRIORITY, COL_STATE, COL_TIME, COL_AREA, COL_TAG, COL_MESSAGE, COL_VALUE, COL_LIMIT = range(
    len(HEADERS["en"])
)
PRIORITY_TEXT = {
    "en": {
        Priority.URGENT: "Urgent",
        Priority.HIGH: "High",
        Priority.MEDIUM: "Medium",
        Priority.LOW: "Low",
    },
    "zh_CN": {
        Priority.URGENT: "紧急",
        Priority.HIGH: "高",
        Priority.MEDIUM: "中",
        Priority.LOW: "低",
    },
}
STATE_TEXT = {
    "en": {
        AlarmState.NORMAL: "Normal",
        AlarmState.UNACK: "Unacknowledged",
        AlarmState.ACKED: "Acknowledged",
        AlarmState.RTN_UNACK: "Returned, unacknowledged",
        AlarmState.SHELVED: "Shelved",
        AlarmState.SUPPRESSED: "Suppressed",
        AlarmState.OUT_OF_SERVICE: "Out of service",
    },
    "zh_CN": {
        AlarmState.NORMAL: "正常",
        AlarmState.UNACK: "未确认",
        AlarmState.ACKED: "已确认",
        AlarmState.RTN_UNACK: "已恢复未确认",
        AlarmState.SHELVED: "已搁置",
        AlarmState.SUPPRESSED: "已抑制",
        AlarmState.OUT_OF_SERVICE: "停用",
    },
}

SortRole = Qt.ItemDataRole.UserRole
ViewRole = Qt.ItemDataRole.UserRole + 1

UNACKED = frozenset({AlarmState.UNACK, AlarmState.RTN_UNACK})
HIDDEN = frozenset({AlarmState.SHELVED, AlarmState.SUPPRESSED, AlarmState.OUT_OF_SERVICE})
ACKED_BG = theme.BACKGROUND  # a calm grey: acknowledged, nothing more to do but watch


@cache
def _bold() -> QFont:
    """The font of unacknowledged rows (made on first use: a QFont needs the application)."""
    font = QFont()
    font.setBold(True)
    return font


def priority_colour(priority: int) -> QColor:
    """The theme colour of an hmi `Priority` (URGENT = 4 is theme.PRIORITY[1], LOW = 1 is [4])."""
    return theme.priority_colour(priority)


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def sort_key(view: AlarmView, column: int, language: str = "en") -> Any:
    """The raw value a column sorts by: priority int, `since` float, numbers, else the text."""
    if column == COL_PRIORITY:
        return int(view.priority)
    if column == COL_TIME:
        return view.since if view.since is not None else float("-inf")
    if column == COL_VALUE:
        return view.value if view.value is not None else float("-inf")
    if column == COL_LIMIT:
        return view.limit if view.limit is not None else float("-inf")
    return display_text(view, column, language).lower()


def display_text(view: AlarmView, column: int, language: str = "en") -> str:
    """A cell's text in `language`."""
    if column == COL_PRIORITY:
        return PRIORITY_TEXT[language].get(view.priority, str(int(view.priority)))
    if column == COL_STATE:
        return STATE_TEXT[language].get(view.state, str(view.state))
    if column == COL_TIME:
        return datetime.fromtimestamp(view.since).strftime("%H:%M:%S") if view.since else ""
    if column == COL_AREA:
        return view.area
    if column == COL_TAG:
        return view.tag
    if column == COL_MESSAGE:
        return view.text(language)
    if column == COL_VALUE:
        return _number(view.value)
    return _number(view.limit)


class AlarmTableModel(QAbstractTableModel):
    """One row per alarm not normal; batches merged in place."""

    def __init__(self, language: str = "en", parent: Any = None) -> None:
        super().__init__(parent)
        if language not in LANGUAGES:
            raise ValueError(f"unknown language {language!r} (one of {', '.join(LANGUAGES)})")
        self._language = language
        self._views: list[AlarmView] = []
        self._row: dict[str, int] = {}

    @property
    def language(self) -> str:
        """The language of headers and messages ("en" or "zh_CN")."""
        return self._language

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        """Number of alarms shown."""
        return 0 if parent.isValid() else len(self._views)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        """Number of columns."""
        return 0 if parent.isValid() else len(HEADERS["en"])

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        """Column titles in the model's language."""
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[self._language][section]
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Cell text, sort keys, the view itself and the state's colours."""
        if not index.isValid():
            return None
        view, col = self._views[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return display_text(view, col, self._language)
        if role == SortRole:
            return sort_key(view, col, self._language)
        if role == ViewRole:
            return view
        if role == Qt.ItemDataRole.BackgroundRole:
            if view.state in UNACKED:
                return priority_colour(view.priority)
            if view.state is AlarmState.ACKED:
                return ACKED_BG
            return None
        if role == Qt.ItemDataRole.FontRole and view.state in UNACKED:
            return _bold()  # unacknowledged rows stand out even where colour is not seen
        if role == Qt.ItemDataRole.ForegroundRole:
            return theme.TEXT_DIM if view.state in HIDDEN else theme.TEXT
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (COL_VALUE, COL_LIMIT):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and col in (COL_TAG, COL_MESSAGE):
            return f"{view.id}\n{view.text(self._language)}"
        return None

    def view(self, row: int) -> AlarmView:
        """The alarm shown in `row`."""
        return self._views[row]

    def find(self, alarm_id: str) -> AlarmView | None:
        """The alarm with this id if it is shown."""
        row = self._row.get(alarm_id)
        return None if row is None else self._views[row]

    def reset(self, views: Iterable[AlarmView]) -> None:
        """Replace every row (the first `active_alarms()`); normal alarms are left out."""
        latest = {view.id: view for view in views}
        self.beginResetModel()
        self._views = [v for v in latest.values() if v.state is not AlarmState.NORMAL]
        self._row = {v.id: i for i, v in enumerate(self._views)}
        self.endResetModel()

    def apply(self, views: Iterable[AlarmView]) -> None:
        """Merge a batch from `alarm_changes_since`: normal ones leave, others enter or update."""
        latest = {view.id: view for view in views}  # the last word on each alarm in the batch
        gone = sorted(
            (
                self._row[i]
                for i, v in latest.items()
                if v.state is AlarmState.NORMAL and i in self._row
            ),
            reverse=True,
        )
        if gone:
            self._remove(gone)
        last = self.columnCount() - 1
        for alarm_id, view in latest.items():
            row = self._row.get(alarm_id)
            if row is None or view.state is AlarmState.NORMAL or self._views[row] == view:
                continue
            self._views[row] = view
            self.dataChanged.emit(self.index(row, 0), self.index(row, last))
        new = [
            v for i, v in latest.items() if v.state is not AlarmState.NORMAL and i not in self._row
        ]
        if new:
            first = len(self._views)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            for offset, view in enumerate(new):
                self._views.append(view)
                self._row[view.id] = first + offset
            self.endInsertRows()

    def _remove(self, rows_descending: list[int]) -> None:
        """Remove rows in contiguous runs, last run first, then renumber once."""
        runs: list[tuple[int, int]] = []
        for row in rows_descending:
            if runs and runs[-1][0] == row + 1:
                runs[-1] = (row, runs[-1][1])
            else:
                runs.append((row, row))
        for first, end in runs:
            self.beginRemoveRows(QModelIndex(), first, end)
            del self._views[first : end + 1]
            self.endRemoveRows()
        self._row = {v.id: i for i, v in enumerate(self._views)}

    def set_language(self, language: str) -> None:
        """Show headers, priorities, states and messages in `language` ("en" or "zh_CN")."""
        if language not in LANGUAGES:
            raise ValueError(f"unknown language {language!r} (one of {', '.join(LANGUAGES)})")
        if language == self._language:
            return
        self._language = language
        last = self.columnCount() - 1
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, last)
        if self._views:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._views) - 1, last))


class AlarmFilter(QSortFilterProxyModel):
    """Alarms of some areas, priorities, states or text; most urgent, then newest, first."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._areas: frozenset[str] = frozenset()
        self._min_priority = int(Priority.LOW)
        self._states: frozenset[AlarmState] = frozenset()
        self._text = ""
        self.setSortRole(SortRole)
        self.setDynamicSortFilter(True)

    def setSourceModel(self, source_model: QAbstractItemModel) -> None:
        """Show `source_model` (an AlarmTableModel) in the default order."""
        super().setSourceModel(source_model)
        self.sort(COL_PRIORITY, Qt.SortOrder.DescendingOrder)

    def set_areas(self, areas: Iterable[str]) -> None:
        """Keep alarms of these areas (empty: every area)."""
        self.beginFilterChange()
        self._areas = frozenset(areas)
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_min_priority(self, priority: int) -> None:
        """Keep alarms of this priority or more urgent (Priority.LOW: all)."""
        self.beginFilterChange()
        self._min_priority = int(priority)
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_states(self, states: Iterable[AlarmState]) -> None:
        """Keep alarms in these states (empty: every state)."""
        self.beginFilterChange()
        self._states = frozenset(states)
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_text(self, text: str) -> None:
        """Keep alarms whose tag or message contains `text` (any case)."""
        self.beginFilterChange()
        self._text = text.strip().casefold()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def _source(self) -> AlarmTableModel:
        model = self.sourceModel()
        assert isinstance(model, AlarmTableModel)
        return model

    def filterAcceptsRow(self, source_row: int, source_parent: ModelIndex) -> bool:
        """True when the alarm passes every filter set."""
        model = self._source()
        view = model.view(source_row)
        if self._areas and view.area not in self._areas:
            return False
        if int(view.priority) < self._min_priority:
            return False
        if self._states and view.state not in self._states:
            return False
        if self._text:
            message = view.text(model.language).casefold()
            return self._text in view.tag.casefold() or self._text in message
        return True

    def lessThan(self, source_left: ModelIndex, source_right: ModelIndex) -> bool:
        """Order by the column's sort key; ties (and the priority column) then by time."""
        model = self._source()
        left, right = model.view(source_left.row()), model.view(source_right.row())
        col = source_left.column()
        if col == COL_PRIORITY:
            return (int(left.priority), sort_key(left, COL_TIME)) < (
                int(right.priority),
                sort_key(right, COL_TIME),
            )
        a, b = sort_key(left, col, model.language), sort_key(right, col, model.language)
        if a == b:
            return bool(sort_key(left, COL_TIME) < sort_key(right, COL_TIME))
        return bool(a < b)

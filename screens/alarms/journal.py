"""The alarm journal tab: filters, an asynchronous query, a sortable table and the export.

The query runs in the client's worker (`client.alarm_journal`, a future) and its answer comes back
through `context.call`; the Qt thread never waits. The time range is one of a few presets (the
last hour, the current shift, 24 hours, 7 days). The tag text narrows the answer by substring
(the journal's own `tags` filter matches whole names only).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from hmi.alarms.model import Event, Transition
from hmi.client import Priority
from screens import i18n
from screens.alarms.filters import add_priorities, fill_areas, label_priorities
from screens.alarms.journal_model import (
    COL_TIME,
    JournalModel,
    SortRole,
    export_csv,
    export_xlsx,
)
from screens.alarms.texts import event_name
from screens.context import AppContext
from screens.i18n import tr

__all__ = ["JOURNAL_LIMIT", "RANGES", "SHIFT_STARTS", "JournalView", "time_range"]

JOURNAL_LIMIT = 10_000  # rows per query: narrow the filters for more
SHIFT_STARTS = (0, 8, 16)  # local hours at which a shift begins (three 8-hour shifts)
RANGES: tuple[tuple[str, str], ...] = (
    ("1h", "Last hour"),
    ("shift", "Current shift"),
    ("24h", "Last 24 hours"),
    ("7d", "Last 7 days"),
)


def time_range(preset: str, now: float | None = None) -> tuple[float, float]:
    """[start, end) in epoch seconds for a preset of RANGES."""
    end = time.time() if now is None else now
    if preset == "1h":
        return end - 3600.0, end + 1.0
    if preset == "24h":
        return end - 86400.0, end + 1.0
    if preset == "7d":
        return end - 7 * 86400.0, end + 1.0
    if preset == "shift":
        moment = datetime.fromtimestamp(end)
        hour = max(h for h in SHIFT_STARTS if h <= moment.hour)
        start = moment.replace(hour=hour, minute=0, second=0, microsecond=0)
        return start.timestamp(), end + 1.0
    raise ValueError(f"unknown time range {preset!r} (one of {', '.join(k for k, _ in RANGES)})")


class JournalView(QWidget):
    """The alarm journal: filters, the table of transitions, CSV / Excel export."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.loading = False
        self._areas: set[str] = set()
        self._truncated = False
        self.dialog: QFileDialog | None = None

        self.range_label, self.range = QLabel(self), QComboBox(self)
        for key, _label in RANGES:
            self.range.addItem("", key)
        self.priority_label, self.priority = QLabel(self), QComboBox(self)
        add_priorities(self.priority)
        self.area_label, self.area = QLabel(self), QComboBox(self)
        self.area.addItem("", None)
        self.event_label, self.event_kind = QLabel(self), QComboBox(self)
        self.event_kind.addItem("", None)
        for event in Event:
            self.event_kind.addItem("", event)
        self.tag = QLineEdit(self)
        self.search = QPushButton(self)
        self.search.clicked.connect(self.load)
        self.tag.returnPressed.connect(self.load)

        self.model = JournalModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SortRole)
        self.table = QTableView(self)
        self.table.setObjectName("alarmJournal")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COL_TIME, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)

        self.status = QLabel(self)
        self.status.setObjectName("summary")
        self.export_csv = QPushButton(self)
        self.export_csv.clicked.connect(lambda: self._ask_file("csv"))
        self.export_xlsx = QPushButton(self)
        self.export_xlsx.clicked.connect(lambda: self._ask_file("xlsx"))

        filters = QHBoxLayout()
        for label, field in (
            (self.range_label, self.range),
            (self.priority_label, self.priority),
            (self.area_label, self.area),
            (self.event_label, self.event_kind),
        ):
            filters.addWidget(label)
            filters.addWidget(field)
        filters.addWidget(self.tag, 1)
        filters.addWidget(self.search)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.export_csv)
        bottom.addWidget(self.export_xlsx)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)
        layout.addLayout(bottom)
        i18n.on_change(self._on_language)
        self.retranslate()
        self._update_buttons()

    # ---- the query --------------------------------------------------------------------------

    def filters(self) -> dict[str, Any]:
        """The query's filters (for `client.alarm_journal`) from the fields."""
        out: dict[str, Any] = {"limit": JOURNAL_LIMIT}
        priority = Priority(int(self.priority.currentData()))
        if priority is not Priority.LOW:
            out["priority"] = priority
        area = self.area.currentData()
        if area is not None:
            out["areas"] = [area]
        event = self.event_kind.currentData()
        if event is not None:
            out["events"] = [Event(event)]
        return out

    def load(self) -> None:
        """Ask the journal for the transitions the filters describe (answer comes later)."""
        start, end = time_range(str(self.range.currentData()))
        self.loading = True
        self.status.setText(tr("Loading…"))
        self._update_buttons()
        future = self.context.client.alarm_journal(start, end, **self.filters())
        self.context.call(future, self._loaded, self._failed, guard=self)

    def _loaded(self, rows: list[Transition]) -> None:
        self.loading = False
        self._truncated = len(rows) >= JOURNAL_LIMIT
        text = self.tag.text().strip().casefold()
        if text:
            rows = [t for t in rows if text in t.tag.casefold() or text in t.alarm.casefold()]
        self.add_areas(t.area for t in rows)
        self.model.set_rows(rows)
        self._show_count()
        self._update_buttons()

    def _failed(self, error: BaseException) -> None:
        self.loading = False
        self.status.setText(tr("The journal could not be read: {error}").format(error=error))
        self._update_buttons()

    def _show_count(self) -> None:
        text = tr("{n} entries").format(n=self.model.rowCount())
        if self._truncated:
            text += " · " + tr("only the first {n}: narrow the filters").format(n=JOURNAL_LIMIT)
        self.status.setText(text)

    def add_areas(self, areas: Iterable[str]) -> None:
        """Offer these areas in the area filter too."""
        new = set(areas) - self._areas
        if not new:
            return
        self._areas |= new
        fill_areas(self.area, self._areas)

    # ---- export -----------------------------------------------------------------------------

    def _ask_file(self, kind: str) -> None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M")
        dialog = QFileDialog(self, tr("Export the alarm journal"))
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        dialog.setNameFilter(tr("Excel workbook (*.xlsx)") if kind == "xlsx" else tr("CSV (*.csv)"))
        dialog.setDefaultSuffix(kind)
        dialog.selectFile(f"alarm-journal-{stamp}.{kind}")
        dialog.fileSelected.connect(lambda name: self.export(Path(name)))
        self.dialog = dialog
        dialog.open()

    def export(self, path: Path) -> None:
        """Write the shown transitions, in the order shown, to `path` (.xlsx, else CSV)."""
        rows = self.model.rows()
        order = [self.proxy.mapToSource(self.proxy.index(r, 0)).row() for r in range(len(rows))]
        shown = [rows[i] for i in order]
        try:
            if path.suffix.lower() == ".xlsx":
                export_xlsx(path, shown)
            else:
                export_csv(path, shown)
        except OSError as exc:
            self.status.setText(tr("Export failed: {error}").format(error=exc))
            return
        self.status.setText(tr("{n} entries written to {path}").format(n=len(shown), path=path))

    # ---- language and buttons -----------------------------------------------------------------

    def _update_buttons(self) -> None:
        self.search.setEnabled(not self.loading)
        has_rows = self.model.rowCount() > 0
        self.export_csv.setEnabled(has_rows)
        self.export_xlsx.setEnabled(has_rows)

    def _on_language(self, _code: str) -> None:
        self.retranslate()

    def retranslate(self) -> None:
        """Re-set every text in the current language."""
        self.range_label.setText(tr("Time"))
        for i, (_key, label) in enumerate(RANGES):
            self.range.setItemText(i, tr(label))
        self.priority_label.setText(tr("Priority"))
        label_priorities(self.priority)
        self.area_label.setText(tr("Area"))
        self.area.setItemText(0, tr("All areas"))
        self.event_label.setText(tr("Event"))
        self.event_kind.setItemText(0, tr("All events"))
        for i in range(1, self.event_kind.count()):
            self.event_kind.setItemText(i, event_name(Event(self.event_kind.itemData(i))))
        self.tag.setPlaceholderText(tr("Tag or alarm contains…"))
        self.search.setText(tr("Search"))
        self.export_csv.setText(tr("Export CSV…"))
        self.export_xlsx.setText(tr("Export Excel…"))
        self.model.retranslate()
        if not self.loading and self.model.rowCount():
            self._show_count()

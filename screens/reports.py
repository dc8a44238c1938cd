"""The reports screen: history of chosen tags over a shift, a day, a week or a month, exported
to Excel or CSV as raw samples or interval statistics (min, max, first, last, average)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

from PySide6.QtCore import QDateTime, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDateTimeEdit,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from screens import i18n
from screens.context import AppContext
from screens.i18n import tr

__all__ = ["INTERVALS", "RANGES", "ReportsScreen", "span_of"]

# name -> seconds back from now (None: the custom range in the two fields)
RANGES: dict[str, float | None] = {
    "Last shift (8 h)": 8 * 3600.0,
    "Last 24 hours": 24 * 3600.0,
    "Yesterday": -1.0,
    "Last 7 days": 7 * 86400.0,
    "Last 30 days": 30 * 86400.0,
    "Custom": None,
}
# name -> bucket width in seconds (None: raw samples)
INTERVALS: dict[str, float | None] = {
    "Raw samples": None,
    "1 minute": 60.0,
    "15 minutes": 900.0,
    "1 hour": 3600.0,
    "1 day": 86400.0,
}
FORMATS = {"Excel (.xlsx)": "xlsx", "CSV (.csv)": "csv"}


def span_of(range_name: str, now: float) -> tuple[float, float] | None:
    """(start, end) epoch seconds of a named range ending now (None for "Custom")."""
    back = RANGES[range_name]
    if back is None:
        return None
    if back < 0:  # yesterday, midnight to midnight in local time
        today = datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0, microsecond=0)
        return (today - timedelta(days=1)).timestamp(), today.timestamp()
    return now - back, now


class ReportsScreen(QWidget):
    """Pick tags, a range and an interval, and export the history (needs export_reports)."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.title = QLabel(self)
        self.title.setObjectName("title")
        self.search = QLineEdit(self)
        self.search.setObjectName("report_search")
        self.tags = QListWidget(self)
        self.tags.setObjectName("report_tags")
        for name, tag in context.client.tag_defs().items():
            if tag.history and not name.startswith("_"):
                item = QListWidgetItem(f"{name} — {tag.description}" if tag.description else name)
                item.setData(Qt.ItemDataRole.UserRole, name)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Unchecked)
                self.tags.addItem(item)
        self.range = QComboBox(self)
        self.range.setObjectName("report_range")
        self.start = QDateTimeEdit(self)
        self.end = QDateTimeEdit(self)
        for edit in (self.start, self.end):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd HH:mm")
        now = QDateTime.currentDateTime()
        self.start.setDateTime(now.addDays(-1))
        self.end.setDateTime(now)
        self.interval = QComboBox(self)
        self.interval.setObjectName("report_interval")
        self.format = QComboBox(self)
        self.format.setObjectName("report_format")
        self.export = QPushButton(self)
        self.export.setObjectName("report_export")
        self.status = QLabel(self)
        self.status.setObjectName("report_status")
        self.status.setWordWrap(True)
        self.form = QFormLayout()
        self.labels = [QLabel(self) for _ in range(6)]
        for label, field in zip(
            self.labels,
            (self.range, self.start, self.end, self.interval, self.format, self.export),
            strict=True,
        ):
            self.form.addRow(label, field)
        left = QVBoxLayout()
        left.addWidget(self.search)
        left.addWidget(self.tags, 1)
        right = QVBoxLayout()
        right.addLayout(self.form)
        right.addWidget(self.status)
        right.addStretch(1)
        row = QHBoxLayout()
        row.addLayout(left, 2)
        row.addLayout(right, 1)
        column = QVBoxLayout(self)
        column.addWidget(self.title)
        column.addLayout(row, 1)
        self.search.textChanged.connect(self._filter)
        self.range.currentIndexChanged.connect(self._range_changed)
        self.export.clicked.connect(self.choose_file)
        self.tags.itemChanged.connect(lambda _item: self._update_enabled())
        context.session_changed.connect(lambda _s: self._update_enabled())
        i18n.on_change(self.retranslate)
        self.retranslate()

    def checked_tags(self) -> list[str]:
        """The tags ticked for the report, in list order."""
        out = []
        for row in range(self.tags.count()):
            item = self.tags.item(row)
            if item.checkState() == Qt.CheckState.Checked:
                out.append(str(item.data(Qt.ItemDataRole.UserRole)))
        return out

    def set_checked(self, names: list[str]) -> None:
        """Tick exactly `names`."""
        wanted = set(names)
        for row in range(self.tags.count()):
            item = self.tags.item(row)
            on = item.data(Qt.ItemDataRole.UserRole) in wanted
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def span(self) -> tuple[float, float]:
        """The chosen (start, end) in epoch seconds."""
        named = span_of(str(self.range.currentData()), time.time())
        if named is not None:
            return named
        return self.start.dateTime().toSecsSinceEpoch(), self.end.dateTime().toSecsSinceEpoch()

    def buckets(self) -> int | None:
        """Bucket count for the chosen interval over the span (None: raw samples)."""
        width = INTERVALS[str(self.interval.currentData())]
        if width is None:
            return None
        start, end = self.span()
        return max(1, round((end - start) / width))

    def choose_file(self) -> None:
        """Ask where to save, then export."""
        suffix = str(self.format.currentData())
        stamp = datetime.now().strftime("%Y%m%d-%H%M")
        dest, _ = QFileDialog.getSaveFileName(
            self, tr("Save report"), f"report-{stamp}.{suffix}", f"*.{suffix}"
        )
        if dest:
            self.export_to(Path(dest))

    def export_to(self, dest: Path) -> None:
        """Export the chosen history to `dest` (the core checks the permission and audits)."""
        session = self.context.session
        tags = self.checked_tags()
        if session is None or not tags:
            self.status.setText(tr("Log in and tick at least one tag."))
            return
        start, end = self.span()
        if end <= start:
            self.status.setText(tr("The end must be after the start."))
            return
        self.export.setEnabled(False)
        self.status.setText(tr("Exporting…"))
        future = self.context.client.export_history(
            session, tags, start, end, dest, buckets=self.buckets()
        )
        self.context.call(future, lambda rows: self._done(dest, rows), self._failed, self)

    def _done(self, dest: Path, rows: int) -> None:
        self.status.setText(tr("{rows} rows written to {path}").format(rows=rows, path=dest))
        self._update_enabled()

    def _failed(self, error: BaseException) -> None:
        self.status.setText(tr("Export failed: {error}").format(error=error))
        self._update_enabled()

    def _filter(self, text: str) -> None:
        needle = text.strip().lower()
        for row in range(self.tags.count()):
            item = self.tags.item(row)
            item.setHidden(bool(needle) and needle not in item.text().lower())

    def _range_changed(self) -> None:
        custom = RANGES.get(str(self.range.currentData())) is None
        self.start.setEnabled(custom)
        self.end.setEnabled(custom)

    def _update_enabled(self) -> None:
        allowed = self.context.may("export_reports")
        self.export.setEnabled(allowed and bool(self.checked_tags()))
        self.export.setToolTip("" if allowed else tr("Needs the export_reports permission"))

    def retranslate(self, _code: str = "") -> None:
        """Re-set every text in the current language."""
        self.title.setText(tr("Reports"))
        self.search.setPlaceholderText(tr("Filter tags…"))
        for combo, names in (
            (self.range, RANGES),
            (self.interval, INTERVALS),
            (self.format, FORMATS),
        ):
            chosen = combo.currentIndex()
            combo.blockSignals(True)
            combo.clear()
            for name in names:
                combo.addItem(tr(name), FORMATS[name] if combo is self.format else name)
            combo.setCurrentIndex(max(0, chosen))
            combo.blockSignals(False)
        for label, text in zip(
            self.labels,
            ("Range", "From", "To", "Interval", "Format", ""),
            strict=True,
        ):
            label.setText(tr(text) if text else "")
        self.export.setText(tr("Export…"))
        self._range_changed()
        self._update_enabled()

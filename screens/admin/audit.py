"""The Audit tab: the audit trail filtered by time, user, action and target; verify; export.

Records are asked for through the client (`audit`, which checks `manage_users`) and arrive on
the Qt thread when the query is done; an answer to an older query than the latest is dropped.
**Verify** runs the core's hash-chain check and shows either "chain intact" with the count or
every problem it found. The records shown can be written to a CSV file (UTF-8 with a byte
order mark, so a spreadsheet opens Chinese text correctly).
"""

from __future__ import annotations

import csv
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
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

from screens import i18n, theme
from screens.admin.texts import refusal_text, time_text
from screens.context import AppContext
from screens.i18n import tr
from screens.widgets.table import ColumnsTableModel

if TYPE_CHECKING:  # the audit records live in the relational store (SQLAlchemy)
    from hmi.audit.schema import AuditRecord
    from hmi.audit.verify import VerifyReport

__all__ = ["AUDIT_COLUMNS", "LIMIT", "PRESETS", "AuditModel", "AuditTab"]

ModelIndex = QModelIndex | QPersistentModelIndex

AUDIT_COLUMNS = ("Time", "User", "Host", "Action", "Object", "Change", "Reason", "Result")
COL_TIME, COL_USER, COL_HOST, COL_ACTION, COL_TARGET, COL_CHANGE, COL_REASON, COL_RESULT = range(
    len(AUDIT_COLUMNS)
)
# (English label, seconds back; None: the whole trail)
PRESETS: tuple[tuple[str, float | None], ...] = (
    ("Last hour", 3600.0),
    ("Last 24 hours", 86400.0),
    ("Last 7 days", 7 * 86400.0),
    ("Last 30 days", 30 * 86400.0),
    ("Everything", None),
)
LIMIT = 5000  # records shown at most (the newest)
RESULTS = {"ok": "ok", "failed": "failed", "refused": "refused"}
PROBLEM_KINDS = {
    "edited": "edited",
    "reordered": "reordered",
    "missing": "missing",
    "unlinked": "unlinked",
    "forged": "forged",
    "head": "head row",
}


def change_text(record: AuditRecord) -> str:
    """'old -> new', or whichever of the two there is."""
    if record.old and record.new:
        return f"{record.old} -> {record.new}"
    return record.new or record.old


class AuditModel(ColumnsTableModel):
    """Audit records, newest first."""

    COLUMNS = AUDIT_COLUMNS

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._records: list[AuditRecord] = []

    def row_count(self) -> int:
        """Number of rows shown."""
        return len(self._records)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Cell texts; the full change and reason as tooltips."""
        if not index.isValid():
            return None
        record, col = self._records[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(record, col)
        if role == Qt.ItemDataRole.ToolTipRole and col in (COL_CHANGE, COL_REASON, COL_TARGET):
            return self._display(record, col) or None
        if role == Qt.ItemDataRole.ToolTipRole and col == COL_TIME:
            return tr("record {seq}").format(seq=record.seq)
        return None

    @staticmethod
    def _display(record: AuditRecord, col: int) -> str:
        if col == COL_TIME:
            return time_text(record.ts)
        if col == COL_USER:
            return record.user
        if col == COL_HOST:
            return record.host
        if col == COL_ACTION:
            return record.action
        if col == COL_TARGET:
            return record.target
        if col == COL_CHANGE:
            return change_text(record)
        if col == COL_REASON:
            return record.reason
        known = RESULTS.get(record.result)
        return tr(known) if known is not None else record.result

    def show(self, records: list[AuditRecord]) -> None:
        """Show these records (given newest first)."""
        self.beginResetModel()
        self._records = list(records)
        self.endResetModel()

    def records(self) -> list[AuditRecord]:
        """The records shown, in row order."""
        return list(self._records)

    def retranslate(self) -> None:
        """Redraw the headers and texts in the current language."""
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(AUDIT_COLUMNS) - 1)
        if self._records:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._records) - 1, len(AUDIT_COLUMNS) - 1)
            )


_CSV_FIELDS = (
    "seq",
    "ts",
    "user",
    "host",
    "action",
    "target",
    "old",
    "new",
    "reason",
    "result",
    "hash",
)


def write_csv(path: Path, records: list[AuditRecord]) -> None:
    """Write audit records to a CSV file (UTF-8 with BOM, ISO times, every field)."""
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        out = csv.writer(f)
        out.writerow(_CSV_FIELDS)
        for r in records:
            row = r.as_dict()
            row["ts"] = datetime.fromtimestamp(r.ts).astimezone().isoformat(timespec="seconds")
            out.writerow([row[name] for name in _CSV_FIELDS])


class AuditTab(QWidget):
    """Filters, the record table, Verify and Export CSV."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._context = context
        self._query = 0  # the number of the latest query: older answers are dropped
        self.period = QComboBox(self)
        self.user = QLineEdit(self)
        self.action = QLineEdit(self)
        self.target = QLineEdit(self)
        for field in (self.user, self.action, self.target):
            field.setClearButtonEnabled(True)
            field.returnPressed.connect(self.load)
        self.period.currentIndexChanged.connect(self.load)
        self.search_button = QPushButton(self)
        self.search_button.clicked.connect(self.load)
        self.verify_button = QPushButton(self)
        self.verify_button.clicked.connect(self.verify)
        self.export_button = QPushButton(self)
        self.export_button.clicked.connect(self.choose_export)
        self.model = AuditModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.status = QLabel(self)
        self.status.setObjectName("status")
        self.verdict = QLabel(self)
        self.verdict.setObjectName("auditVerdict")
        self.verdict.setWordWrap(True)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._report: VerifyReport | None = None
        self._file_dialog: QFileDialog | None = None

        self._filter_labels = [QLabel(self) for _ in range(4)]
        filters = QHBoxLayout()
        inputs: tuple[QWidget, ...] = (self.period, self.user, self.action, self.target)
        for label, box in zip(self._filter_labels, inputs, strict=True):
            filters.addWidget(label)
            filters.addWidget(box, 1)
        filters.addWidget(self.search_button)
        actions = QHBoxLayout()
        actions.addWidget(self.status, 1)
        actions.addWidget(self.verify_button)
        actions.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)
        layout.addLayout(actions)
        layout.addWidget(self.verdict)
        i18n.on_change(self.retranslate)
        self.retranslate()

    # ---- records ------------------------------------------------------------------------------

    def filters(self) -> dict[str, Any]:
        """The query the filters ask for (`query_audit`'s keywords)."""
        found: dict[str, Any] = {"newest_first": True, "limit": LIMIT}
        back = PRESETS[max(self.period.currentIndex(), 0)][1]
        if back is not None:
            found["start"] = time.time() - back
        if user := self.user.text().strip():
            found["user"] = user
        if action := self.action.text().strip():
            found["action"] = action if action.endswith(("*", ".")) else action + "*"
        if target := self.target.text().strip():
            found["target"] = target
        return found

    def load(self) -> None:
        """Ask the core for the records the filters select."""
        session = self._context.session
        if session is None:
            return
        self._query += 1
        query = self._query
        self.status.setText(tr("Loading…"))
        future = self._context.client.audit(session, **self.filters())
        self._context.call(
            future,
            lambda records: self._show(query, records),
            lambda error: self._failed(query, error),
            guard=self,
        )

    def _show(self, query: int, records: list[AuditRecord]) -> None:
        if query != self._query:
            return
        self.model.show(records)
        self.table.resizeColumnsToContents()
        self._say_count()

    def _say_count(self) -> None:
        n = self.model.rowCount()
        if n >= LIMIT:
            self.status.setText(tr("The newest {n} records (narrow the filters)").format(n=n))
        else:
            self.status.setText(tr("{n} records").format(n=n))

    def _failed(self, query: int, error: BaseException) -> None:
        if query == self._query:
            self.status.setText(refusal_text(error))

    def clear(self) -> None:
        """Forget what was shown (the person logged out)."""
        self._query += 1
        self.model.show([])
        self._report = None
        self.status.clear()
        self.verdict.clear()
        self.verdict.setStyleSheet("")

    # ---- verify -------------------------------------------------------------------------------

    def verify(self) -> None:
        """Check the audit trail's hash chain and show the outcome."""
        session = self._context.session
        if session is None:
            return
        self.verify_button.setEnabled(False)
        self.verdict.setStyleSheet("")
        self.verdict.setText(tr("Checking the audit trail…"))
        future = self._context.client.verify_audit(session)
        self._context.call(future, self._verified, self._verify_failed, guard=self)

    def _verified(self, report: VerifyReport) -> None:
        self.verify_button.setEnabled(True)
        self._report = report
        self._show_report()

    def _verify_failed(self, error: BaseException) -> None:
        self.verify_button.setEnabled(True)
        self._report = None
        self.verdict.setText(refusal_text(error))

    def _show_report(self) -> None:
        report = self._report
        if report is None:
            return
        if report.ok:
            self.verdict.setStyleSheet("")
            self.verdict.setText(tr("Chain intact, {n} records.").format(n=report.count))
            return
        lines = [
            tr("{k} problem(s) in {n} records:").format(k=len(report.problems), n=report.count)
        ]
        for problem in report.problems:
            kind = PROBLEM_KINDS.get(problem.kind)
            lines.append(f"{tr(kind) if kind else problem.kind}: {problem.message}")
        self.verdict.setText("\n".join(lines))
        self.verdict.setStyleSheet(
            f"background-color: {theme.FAULT.name()}; color: {theme.QUALITY_BAD_TEXT.name()};"
        )

    # ---- export -------------------------------------------------------------------------------

    def choose_export(self) -> None:
        """Ask where to write the records shown as CSV."""
        dialog = QFileDialog(self, tr("Export audit records"))
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilter(tr("CSV files (*.csv)"))
        dialog.setDefaultSuffix("csv")
        dialog.selectFile(f"audit-{datetime.now():%Y%m%d-%H%M}.csv")
        dialog.fileSelected.connect(lambda path: self.export_csv(Path(path)))
        dialog.finished.connect(dialog.deleteLater)
        self._file_dialog = dialog
        dialog.open()

    def export_csv(self, path: Path) -> None:
        """Write the records shown to `path` as CSV."""
        try:
            write_csv(path, self.model.records())
        except OSError as error:
            self.status.setText(
                tr("Could not write {path}: {reason}").format(
                    path=path, reason=error.strerror or error
                )
            )
            return
        self.status.setText(
            tr("{n} records written to {path}").format(n=self.model.rowCount(), path=path)
        )

    # ---- language -----------------------------------------------------------------------------

    def retranslate(self, _code: str = "") -> None:
        """Redraw every text in the current language."""
        current = self.period.currentIndex()
        current = 1 if current < 0 else current  # the last 24 hours at first
        self.period.blockSignals(True)
        self.period.clear()
        self.period.addItems([tr(label) for label, _ in PRESETS])
        self.period.setCurrentIndex(current)
        self.period.blockSignals(False)
        texts = ("Period", "User", "Action", "Object")
        for label, text in zip(self._filter_labels, texts, strict=True):
            label.setText(tr(text))
        self.action.setPlaceholderText(tr("beginning, e.g. user_ or login"))
        self.search_button.setText(tr("Search"))
        self.verify_button.setText(tr("Verify"))
        self.export_button.setText(tr("Export CSV…"))
        self.model.retranslate()
        if self._report is not None:
            self._show_report()

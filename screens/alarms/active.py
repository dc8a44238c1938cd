"""The active-alarms tab: the filtered table and every operator request on alarms.

Buttons are offered only to a person holding the permission in the selected alarms' areas
(`context.may`); the core checks again and a refusal is shown in the message line, never
swallowed. Requests go through the client's futures and come back with `context.call`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import Any

from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from hmi.client import AlarmState, AlarmView, Session
from screens import i18n
from screens.alarms.dialogs import CommentDialog, ReasonDialog, ShelveDialog, TextDialog
from screens.alarms.filters import FilterBar
from screens.alarms.model import (
    COL_MESSAGE,
    COL_PRIORITY,
    COL_STATE,
    COL_TAG,
    UNACKED,
    AlarmFilter,
    AlarmTableModel,
    ViewRole,
)
from screens.alarms.response import ResponseBox
from screens.alarms.texts import language
from screens.context import AppContext
from screens.i18n import tr

__all__ = ["ACKNOWLEDGE", "SHELVE", "ActiveAlarms"]

ACKNOWLEDGE = "acknowledge"  # also reset and the response workflow
SHELVE = "shelve"  # also unshelve, out of service and back


class ActiveAlarms(QWidget):
    """The alarms not normal: filters, table, request buttons, response, message line."""

    areas_seen = Signal(object)  # a set of area names met for the first time

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.dialog: TextDialog | None = None  # the dialog open now (tests drive it)

        self.model = AlarmTableModel(language(), self)
        self.proxy = AlarmFilter(self)
        self.proxy.setSourceModel(self.model)

        self.filters = FilterBar(self.proxy, self)
        self.filters.changed.connect(self._after_filter)
        # the fields, for tests and the shell's shortcuts
        self.area, self.priority = self.filters.area, self.filters.priority
        self.state, self.text, self.summary = (
            self.filters.state,
            self.filters.text,
            self.filters.summary,
        )

        self.table = QTableView(self)
        self.table.setObjectName("alarmTable")
        self.table.setModel(self.proxy)
        self.table.horizontalHeader().setSortIndicator(COL_PRIORITY, Qt.SortOrder.DescendingOrder)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(COL_MESSAGE, QHeaderView.ResizeMode.Stretch)
        header.resizeSection(COL_STATE, 190)
        header.resizeSection(COL_TAG, 200)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.proxy.layoutChanged.connect(self.update_buttons)
        self.proxy.rowsInserted.connect(self._rows_changed)
        self.proxy.rowsRemoved.connect(self._rows_changed)

        self.ack = QPushButton(self)
        self.ack_all = QPushButton(self)
        self.shelve = QPushButton(self)
        self.unshelve = QPushButton(self)
        self.reset = QPushButton(self)
        self.out_of_service = QPushButton(self)
        self.return_to_service = QPushButton(self)
        self.ack.clicked.connect(self._ask_ack)
        self.ack_all.clicked.connect(self._ask_ack_all)
        self.shelve.clicked.connect(self._ask_shelve)
        self.unshelve.clicked.connect(self._unshelve)
        self.reset.clicked.connect(self._reset)
        self.out_of_service.clicked.connect(self._ask_out_of_service)
        self.return_to_service.clicked.connect(self._return_to_service)

        self.response = ResponseBox(context, self)
        self.response.message.connect(self.show_message)
        self.message = QLabel(self)
        self.message.setObjectName("alarmMessage")
        self.message.setWordWrap(True)
        self.message.setProperty("error", False)

        buttons = QHBoxLayout()
        for button in self.buttons():
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filters)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.addWidget(self.response)

        self.context.session_changed.connect(self._on_session)
        i18n.on_change(self._on_language)
        self.retranslate()
        self.update_buttons()

    def buttons(self) -> list[QPushButton]:
        """The request buttons, in the order shown."""
        return [
            self.ack,
            self.ack_all,
            self.shelve,
            self.unshelve,
            self.reset,
            self.out_of_service,
            self.return_to_service,
        ]

    # ---- alarms in ----------------------------------------------------------------------------

    def reset_alarms(self, views: Iterable[AlarmView]) -> None:
        """Show exactly these alarms (a fresh `active_alarms()`)."""
        views = list(views)
        self.model.reset(views)
        self._note_areas(views)
        self._after_change()

    def apply_alarms(self, views: Iterable[AlarmView]) -> None:
        """Merge a batch of alarm changes."""
        views = list(views)
        self.model.apply(views)
        self._note_areas(views)
        self._after_change()

    def _after_change(self) -> None:
        selected = self.selected()
        self.response.show_alarm(selected[0] if len(selected) == 1 else None)
        self._show_summary()
        self.update_buttons()

    def _note_areas(self, views: list[AlarmView]) -> None:
        new = self.filters.note_areas(v.area for v in views)
        if new:
            self.areas_seen.emit(new)

    # ---- what is shown and selected -----------------------------------------------------------

    def visible(self) -> list[AlarmView]:
        """The alarms the filters let through, in the order shown."""
        proxy = self.proxy
        return [proxy.index(r, 0).data(ViewRole) for r in range(proxy.rowCount())]

    def selected(self) -> list[AlarmView]:
        """The alarms selected in the table (their current views)."""
        rows = self.table.selectionModel().selectedRows()
        out = []
        for index in sorted(rows, key=lambda i: i.row()):
            view = index.data(ViewRole)
            if view is not None:
                out.append(view)
        return out

    def select(self, alarm_id: str) -> bool:
        """Select the row of `alarm_id` (False when it is not shown)."""
        for row in range(self.proxy.rowCount()):
            view = self.proxy.index(row, 0).data(ViewRole)
            if view.id == alarm_id:
                flags = (
                    QItemSelectionModel.SelectionFlag.ClearAndSelect
                    | QItemSelectionModel.SelectionFlag.Rows
                )
                self.table.selectionModel().select(self.proxy.index(row, 0), flags)
                self.table.scrollTo(self.proxy.index(row, 0))
                return True
        return False

    def _selection_changed(self, *_: Any) -> None:
        self._after_change()

    def _rows_changed(self, *_: Any) -> None:
        self._show_summary()
        self.update_buttons()

    def _show_summary(self) -> None:
        total = self.model.rowCount()
        unacked = sum(1 for r in range(total) if self.model.view(r).state in UNACKED)
        self.summary.setText(
            tr("{shown} of {total} alarms · {unacked} unacknowledged").format(
                shown=self.proxy.rowCount(), total=total, unacked=unacked
            )
        )

    def _may(self, permission: str, views: Iterable[AlarmView]) -> bool:
        views = list(views)
        return bool(views) and all(self.context.may(permission, v.area) for v in views)

    def _ackable(self) -> list[AlarmView]:
        return [
            v
            for v in self.visible()
            if v.state in UNACKED and self.context.may(ACKNOWLEDGE, v.area)
        ]

    def update_buttons(self) -> None:
        """Offer each request only where it fits the selection and the person may make it."""
        sel = self.selected()
        one = sel[0] if len(sel) == 1 else None
        state = one.state if one is not None else None
        unacked = [v for v in sel if v.state in UNACKED]
        self.ack.setEnabled(bool(unacked) and self._may(ACKNOWLEDGE, unacked))
        self.ack_all.setEnabled(bool(self._ackable()))
        may_shelve = one is not None and self._may(SHELVE, [one])
        self.shelve.setEnabled(
            may_shelve
            and state not in (AlarmState.SHELVED, AlarmState.OUT_OF_SERVICE, AlarmState.NORMAL)
        )
        self.unshelve.setEnabled(may_shelve and state is AlarmState.SHELVED)
        self.out_of_service.setEnabled(may_shelve and state is not AlarmState.OUT_OF_SERVICE)
        self.return_to_service.setEnabled(may_shelve and state is AlarmState.OUT_OF_SERVICE)
        self.reset.setEnabled(
            one is not None
            and self._may(ACKNOWLEDGE, [one])
            and state in (AlarmState.ACKED, AlarmState.UNACK, AlarmState.RTN_UNACK)
        )
        self.response.update_buttons()

    # ---- requests -------------------------------------------------------------------------------

    def show_message(self, text: str, error: bool = False) -> None:
        """Show `text` in the message line (an error marked as one)."""
        self.message.setText(text)
        self.message.setProperty("error", error)
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)

    def _session(self) -> Session | None:
        session = self.context.session
        if session is None:
            self.show_message(tr("Log in first."), True)
        else:
            self.context.touch()
        return session

    def _send(
        self, future: Future[Any], done: str, on_result: Callable[[Any], None] | None = None
    ) -> None:
        """Hand a request's outcome to the message line."""

        def ok(result: Any) -> None:
            if on_result is not None:
                on_result(result)
            else:
                self.show_message(tr(done))

        def failed(error: BaseException) -> None:
            self.show_message(tr("Refused: {reason}").format(reason=error), True)

        self.context.call(future, ok, failed, guard=self)

    def _open(self, dialog: TextDialog, on_ok: Callable[[TextDialog], None]) -> None:
        self.dialog = dialog
        dialog.accepted.connect(lambda: on_ok(dialog))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _ask_ack(self) -> None:
        views = [v for v in self.selected() if v.state in UNACKED]
        if views:
            self._open(
                CommentDialog("Acknowledge alarms", views, self),
                lambda d: self._ack(views, d.value()),
            )

    def _ask_ack_all(self) -> None:
        views = self._ackable()
        if views:
            self._open(
                CommentDialog("Acknowledge all visible", views, self),
                lambda d: self._ack(views, d.value()),
            )

    def _ack(self, views: list[AlarmView], comment: str) -> None:
        session = self._session()
        if session is None:
            return
        ids = [v.id for v in views]

        def acked(refused: list[str]) -> None:
            if refused:
                self.show_message(tr("Refused: {reason}").format(reason="; ".join(refused)), True)
            else:
                self.show_message(tr("{n} alarms acknowledged.").format(n=len(ids)))

        self._send(self.context.client.acknowledge(session, ids, comment), "", acked)

    def _one(self) -> AlarmView | None:
        sel = self.selected()
        return sel[0] if len(sel) == 1 else None

    def _ask_shelve(self) -> None:
        view = self._one()
        if view is None:
            return

        def shelve(dialog: TextDialog) -> None:
            assert isinstance(dialog, ShelveDialog)
            session = self._session()
            if session is not None:
                future = self.context.client.shelve(
                    session, view.id, dialog.value(), dialog.seconds()
                )
                self._send(future, "Alarm shelved.")

        self._open(ShelveDialog([view], self), shelve)

    def _unshelve(self) -> None:
        view, session = self._one(), self._session()
        if view is not None and session is not None:
            self._send(self.context.client.unshelve(session, view.id), "Alarm unshelved.")

    def _reset(self) -> None:
        view, session = self._one(), self._session()
        if view is not None and session is not None:
            self._send(self.context.client.reset_alarm(session, view.id), "Alarm reset.")

    def _ask_out_of_service(self) -> None:
        view = self._one()
        if view is None:
            return

        def remove(dialog: TextDialog) -> None:
            session = self._session()
            if session is not None:
                future = self.context.client.remove_from_service(session, view.id, dialog.value())
                self._send(future, "Alarm taken out of service.")

        self._open(ReasonDialog("Take alarm out of service", [view], self), remove)

    def _return_to_service(self) -> None:
        view, session = self._one(), self._session()
        if view is not None and session is not None:
            self._send(
                self.context.client.return_to_service(session, view.id),
                "Alarm returned to service.",
            )

    # ---- filters ----------------------------------------------------------------------------

    def _after_filter(self) -> None:
        self._show_summary()
        self.update_buttons()

    # ---- session and language ---------------------------------------------------------------

    def _on_session(self, _session: object) -> None:
        self.update_buttons()

    def _on_language(self, _code: str) -> None:
        self.retranslate()

    def retranslate(self) -> None:
        """Re-set every text in the current language."""
        self.model.set_language(language())
        self.ack.setText(tr("Acknowledge"))
        self.ack_all.setText(tr("Acknowledge all visible"))
        self.shelve.setText(tr("Shelve…"))
        self.unshelve.setText(tr("Unshelve"))
        self.reset.setText(tr("Reset"))
        self.out_of_service.setText(tr("Out of service…"))
        self.return_to_service.setText(tr("Return to service"))
        self._show_summary()

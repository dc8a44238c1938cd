"""The response workflow of the selected alarm: its record, dispatch, cause and close.

Each alarm occurrence has a response record (hmi.alarms.response): acknowledged -> a field check
dispatched to someone -> the cause recorded from the catalogue -> closed with a note. The box
shows the newest record of the selected alarm and offers the next steps; the core checks the
order and the permission again and its refusals are reported through `message`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from hmi.client import AlarmView
from screens import i18n
from screens.alarms.texts import language
from screens.context import AppContext
from screens.i18n import tr

if TYPE_CHECKING:  # the response records live in the relational store (SQLAlchemy)
    from hmi.alarms.response import AlarmResponse, Cause

__all__ = ["ResponseBox"]

ACKNOWLEDGE = "acknowledge"  # the permission of every workflow step (docs/alarms.md)


def _time(ts: float | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts).strftime("%m-%d %H:%M:%S")


class ResponseBox(QGroupBox):
    """The response record of one alarm and its workflow buttons."""

    message = Signal(str, bool)  # text, True for an error
    changed = Signal()  # a step was recorded

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.view: AlarmView | None = None
        self.record: AlarmResponse | None = None
        self.causes: list[Cause] = []
        self.busy = False
        self._asked = 0  # the number of the last record request: older answers are dropped
        self._key: tuple[Any, ...] | None = None

        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self.dispatch_label, self.dispatch_to = QLabel(self), QLineEdit(self)
        self.dispatch = QPushButton(self)
        self.cause_label, self.cause = QLabel(self), QComboBox(self)
        self.cause_note = QLineEdit(self)
        self.record_cause = QPushButton(self)
        self.close_label, self.close_note = QLabel(self), QLineEdit(self)
        self.close_button = QPushButton(self)
        grid = QGridLayout(self)
        grid.addWidget(self.summary, 0, 0, 1, 4)
        grid.addWidget(self.dispatch_label, 1, 0)
        grid.addWidget(self.dispatch_to, 1, 1, 1, 2)
        grid.addWidget(self.dispatch, 1, 3)
        grid.addWidget(self.cause_label, 2, 0)
        grid.addWidget(self.cause, 2, 1)
        grid.addWidget(self.cause_note, 2, 2)
        grid.addWidget(self.record_cause, 2, 3)
        grid.addWidget(self.close_label, 3, 0)
        grid.addWidget(self.close_note, 3, 1, 1, 2)
        grid.addWidget(self.close_button, 3, 3)
        grid.setColumnStretch(2, 1)

        self.dispatch.clicked.connect(self._dispatch)
        self.record_cause.clicked.connect(self._record_cause)
        self.close_button.clicked.connect(self._close)
        self.dispatch_to.textChanged.connect(self.update_buttons)
        self.context.session_changed.connect(self._on_session)
        i18n.on_change(self._on_language)
        self.retranslate()
        self.context.call(self.context.client.alarm_causes(), self._got_causes, guard=self)

    # ---- what is shown ----------------------------------------------------------------------

    def show_alarm(self, view: AlarmView | None) -> None:
        """Show the response record of `view` (None: nothing selected); reloads on a change."""
        key = None if view is None else (view.id, view.state, view.since)
        if key == self._key:
            self.view = view
            return
        self._key, self.view = key, view
        if view is None:
            self.record = None
            self._show()
            return
        self.reload()

    def reload(self) -> None:
        """Ask for the selected alarm's records again."""
        if self.view is None:
            return
        self._asked += 1
        asked, alarm = self._asked, self.view.id
        future = self.context.client.alarm_responses(alarm=alarm)
        self.context.call(
            future, lambda rows: self._got_record(asked, rows), self._report, guard=self
        )

    def _got_record(self, asked: int, rows: list[AlarmResponse]) -> None:
        if asked != self._asked:
            return
        self.record = rows[-1] if rows else None  # oldest first: the newest occurrence is last
        self._show()

    def _got_causes(self, causes: list[Cause]) -> None:
        self.causes = list(causes)
        self._label_causes()
        self.update_buttons()

    def _label_causes(self) -> None:
        chosen = self.cause.currentData()
        self.cause.clear()
        zh = language() == "zh_CN"
        for cause in self.causes:
            self.cause.addItem(cause.text_zh if zh else cause.text_en, cause.code)
        if chosen is not None:
            self.cause.setCurrentIndex(max(0, self.cause.findData(chosen)))

    def cause_text(self, code: str | None) -> str:
        """A cause's text in the current language (its code when not in the catalogue)."""
        for cause in self.causes:
            if cause.code == code:
                return cause.text_zh if language() == "zh_CN" else cause.text_en
        return code or ""

    def _show(self) -> None:
        r = self.record
        if self.view is None:
            self.summary.setText(tr("Select one alarm to see its response."))
        elif r is None:
            self.summary.setText(tr("No response record for this alarm."))
        else:
            steps = [tr("Activated {time}").format(time=_time(r.activated_ts))]
            if r.acked_ts is not None:
                steps.append(
                    tr("acknowledged {time} by {user}").format(
                        time=_time(r.acked_ts), user=r.acked_by or ""
                    )
                )
            if r.dispatched_ts is not None:
                steps.append(
                    tr("dispatched to {to} {time}").format(
                        to=r.dispatched_to or "", time=_time(r.dispatched_ts)
                    )
                )
            if r.cause is not None:
                steps.append(tr("cause: {cause}").format(cause=self.cause_text(r.cause)))
            if r.closed_ts is not None:
                steps.append(
                    tr("closed {time} by {user}").format(
                        time=_time(r.closed_ts), user=r.closed_by or ""
                    )
                )
            if r.note:
                steps.append(tr("note: {note}").format(note=r.note))
            self.summary.setText(" · ".join(steps))
        self.update_buttons()

    def update_buttons(self) -> None:
        """Offer only the steps that may come next, to a person allowed to take them."""
        r, view = self.record, self.view
        open_ = (
            r is not None
            and r.closed_ts is None
            and view is not None
            and not self.busy
            and self.context.may(ACKNOWLEDGE, view.area)
        )
        acked = open_ and r is not None and r.acked_ts is not None
        self.dispatch.setEnabled(acked and bool(self.dispatch_to.text().strip()))
        self.dispatch_to.setEnabled(open_)
        self.record_cause.setEnabled(open_ and self.cause.count() > 0)
        self.cause.setEnabled(open_)
        self.cause_note.setEnabled(open_)
        self.close_button.setEnabled(open_ and r is not None and r.cause is not None)
        self.close_note.setEnabled(open_)

    # ---- the steps --------------------------------------------------------------------------

    def _step(self, future: Any, done: str) -> None:
        self.busy = True
        self.update_buttons()

        def ok(_result: object) -> None:
            self.busy = False
            self.message.emit(tr(done), False)
            self.changed.emit()
            self.reload()

        def failed(error: BaseException) -> None:
            self.busy = False
            self._report(error)
            self.update_buttons()

        self.context.call(future, ok, failed, guard=self)

    def _dispatch(self) -> None:
        session, r = self.context.session, self.record
        if session is None or r is None:
            return
        self.context.touch()
        self._step(
            self.context.client.dispatch(session, r.id, self.dispatch_to.text().strip()),
            "Field check dispatched.",
        )

    def _record_cause(self) -> None:
        session, r, code = self.context.session, self.record, self.cause.currentData()
        if session is None or r is None or code is None:
            return
        self.context.touch()
        note = self.cause_note.text().strip()
        self._step(
            self.context.client.record_cause(session, r.id, str(code), note), "Cause recorded."
        )

    def _close(self) -> None:
        session, r = self.context.session, self.record
        if session is None or r is None:
            return
        self.context.touch()
        note = self.close_note.text().strip()
        self._step(self.context.client.close_response(session, r.id, note), "Response closed.")

    def _report(self, error: BaseException) -> None:
        self.message.emit(tr("Refused: {reason}").format(reason=error), True)

    # ---- session and language ---------------------------------------------------------------

    def _on_session(self, _session: object) -> None:
        self.update_buttons()

    def _on_language(self, _code: str) -> None:
        self.retranslate()

    def retranslate(self) -> None:
        """Re-set every text in the current language."""
        self.setTitle(tr("Response"))
        self.dispatch_label.setText(tr("Dispatch to"))
        self.dispatch_to.setPlaceholderText(tr("Who checks in the field"))
        self.dispatch.setText(tr("Dispatch"))
        self.cause_label.setText(tr("Cause"))
        self.cause_note.setPlaceholderText(tr("Note (optional)"))
        self.record_cause.setText(tr("Record cause"))
        self.close_label.setText(tr("Close"))
        self.close_note.setPlaceholderText(tr("Closing note (optional)"))
        self.close_button.setText(tr("Close response"))
        self._label_causes()
        self._show()

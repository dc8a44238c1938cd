"""The command dialog: select -> confirm (password, second person) -> operate -> read back.

Opened by a faceplate button with a target. It selects the point at once and shows what the core
answered: the tag, current value against the target, the limits, each interlock. Confirm sends
the password (critical points) and the approver's approval (two-person points), operates, and
shows the read-back outcome. Every request goes through the client as a future (`context.call`),
so the Qt thread never waits; every refusal is shown in words in the dialog. Passwords are read
from their fields when sent and the fields cleared: never kept, never logged.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from hmi.client import CommandDef, CommandResult, Selection, Session
from hmi.screen_config import SymbolDef
from hmi.tags import Quality, TagDef
from screens import i18n, theme
from screens.context import AppContext
from screens.faceplate.texts import (
    interlock_text,
    number_text,
    refusal_text,
    result_text,
    target_text,
)
from screens.i18n import tr

__all__ = ["CommandDialog", "Step"]


class Step(StrEnum):
    """Where the command stands."""

    SELECTING = "selecting"
    SELECTED = "selected"
    CONFIRMING = "confirming"
    OPERATING = "operating"
    DONE = "done"
    REFUSED = "refused"  # the select or the operate refused: nothing was written


def _alarm_style() -> str:
    return f"color: {theme.PRIORITY[1].name()}; font-weight: bold;"


class CommandDialog(QDialog):
    """One command on one point, from select to the read-back result."""

    finished_command = Signal(object)  # the CommandResult
    refused = Signal(str)  # a refusal, in words

    def __init__(
        self,
        context: AppContext,
        command: CommandDef,
        target: Any,
        symbol: SymbolDef | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("commandDialog")
        self.setModal(True)
        self.context = context
        self.command = command
        self.target = target
        self.symbol = symbol
        self.tags = context.client.tag_defs()
        self.tag: TagDef | None = self.tags.get(command.tag)
        self.session: Session | None = context.session
        self._before = context.client.snapshot()[1].get(command.tag)  # until the core answers
        self.selection: Selection | None = None
        self.command_result: CommandResult | None = None
        self.step = Step.SELECTING
        self._closed = False
        self._started = False
        self._message = ""  # the last status or refusal, already in words
        self._blocking = ""  # the English message of a blocking interlock
        self._status: tuple[Callable[[], str], bool] = (lambda: tr("Selecting…"), False)

        self.tag_label = QLabel(command.tag, self)
        self.tag_label.setObjectName("title")
        self.description = QLabel(self.tag.description if self.tag else "", self)
        self.description.setProperty("projectText", True)
        self.current = QLabel(self)
        self.current.setObjectName("current")
        self.target_label = QLabel(self)
        self.target_label.setObjectName("target")
        self.limits = QLabel(self)
        self.interlocks = QVBoxLayout()
        self._interlock_labels: list[QLabel] = []

        self.critical_label = QLabel(self)
        self.password = QLineEdit(self)
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setObjectName("password")
        self.approval_label = QLabel(self)
        self.approver = QLineEdit(self)
        self.approver.setObjectName("approver")
        self.approver_password = QLineEdit(self)
        self.approver_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.approver_password.setObjectName("approverPassword")
        self.password.returnPressed.connect(self._on_confirm)

        self.status = QLabel(self)
        self.status.setObjectName("commandStatus")
        self.status.setWordWrap(True)
        self.confirm_button = QPushButton(self)
        self.confirm_button.setObjectName("confirmButton")
        self.confirm_button.setDefault(True)
        self.confirm_button.clicked.connect(self._on_confirm)
        self.cancel_button = QPushButton(self)
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.clicked.connect(self.reject)

        self.form = QFormLayout()
        self._form_labels = [QLabel(self) for _ in range(5)]
        self.form.addRow(self._form_labels[0], self.current)
        self.form.addRow(self._form_labels[1], self.target_label)
        self.form.addRow(self._form_labels[2], self.limits)
        self.form.addRow(self._form_labels[3], self.approver)
        self.form.addRow(self._form_labels[4], self.approver_password)
        self._password_label = QLabel(self)
        self.form.addRow(self._password_label, self.password)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.confirm_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tag_label)
        layout.addWidget(self.description)
        layout.addLayout(self.form)
        layout.addLayout(self.interlocks)
        layout.addWidget(self.critical_label)
        layout.addWidget(self.approval_label)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.setMinimumWidth(420)

        i18n.on_change(self.retranslate)
        self.retranslate()

    # ---- the steps -----------------------------------------------------------------------------

    def open(self) -> None:
        """Show the dialog (window-modal, without blocking) and select the point."""
        super().open()
        self.start()

    def start(self) -> None:
        """Select the point (once); the answer fills the dialog."""
        if self._started:
            return
        self._started = True
        self._select()

    def _select(self) -> None:
        if self.session is None:
            self._refuse(lambda: tr("Nobody is logged in at this seat"))
            return
        future = self.context.client.select(self.session, self.command.tag, self.target)
        self.context.call(future, self._selected, self._select_refused, guard=self)

    def _selected(self, selection: Selection) -> None:
        self.selection = selection
        if self._closed:  # closed while selecting: give the point up at once
            self._cancel_selection()
            return
        self.step = Step.SELECTED
        self._set_status(lambda: tr("Selected: confirm to write"))
        self.retranslate()
        if selection.critical:
            self.password.setFocus()

    def _select_refused(self, error: BaseException) -> None:
        message = str(error).strip()
        if any(lock.message_en == message for lock in self.command.interlocks):
            self._blocking = message
        self._refuse(lambda: refusal_text(error, self.command))

    def _on_confirm(self) -> None:
        if self.step is not Step.SELECTED or self.selection is None or self.session is None:
            return
        selection, session = self.selection, self.session
        password = self.password.text() if selection.critical else None
        self.password.clear()
        if selection.critical and not password:
            self._set_status(lambda: tr("Enter your password to confirm this command"), alarm=True)
            return
        approver = self.approver.text().strip() and self.approver_password.text()
        if selection.two_person and not selection.approved_by and not approver:
            self._set_status(lambda: tr("The second person enters their name and password"), True)
            return
        self.step = Step.CONFIRMING
        self._set_status(lambda: tr("Confirming…"))
        self.retranslate()
        future = self.context.client.confirm(session, selection.id, password)
        self.context.call(future, self._confirmed, self._confirm_refused, guard=self)

    def _confirmed(self, selection: Selection) -> None:
        self.selection = selection
        if selection.two_person and not selection.approved_by:
            self._approve()
        else:
            self._operate()

    def _confirm_refused(self, error: BaseException) -> None:
        """A wrong password or an expired selection: say so; the person may try again."""
        self.step = Step.SELECTED
        self._set_status(lambda: refusal_text(error, self.command), alarm=True)
        self.refused.emit(self._message)
        self.retranslate()

    def _approve(self) -> None:
        """The second person logs in here, approves with their password, and is logged out."""
        assert self.selection is not None
        name, password = self.approver.text().strip(), self.approver_password.text()
        self.approver_password.clear()
        selection_id = self.selection.id
        client = self.context.client

        def logged_in(approver: Session) -> None:
            def approved(selection: Selection) -> None:
                client.logout(approver)
                self.selection = selection
                self._operate()

            def refused(error: BaseException) -> None:
                client.logout(approver)
                self._confirm_refused(error)

            self.context.call(client.approve(approver, selection_id, password), approved, refused,
                              guard=self)  # fmt: skip

        self._set_status(lambda: tr("Waiting for the second person's approval…"))
        self.context.call(client.login(name, password), logged_in, self._approver_refused,
                          guard=self)  # fmt: skip

    def _approver_refused(self, error: BaseException) -> None:
        self.step = Step.SELECTED
        self._set_status(lambda: tr("Second person: wrong user name or password"), alarm=True)
        self.refused.emit(self._message)
        self.retranslate()

    def _operate(self) -> None:
        assert self.selection is not None and self.session is not None
        self.step = Step.OPERATING
        self._set_status(lambda: tr("Written, waiting for read-back…"))
        self.retranslate()
        future = self.context.client.operate(self.session, self.selection.id)
        self.context.call(future, self._operated, self._operate_refused, guard=self)

    def _operated(self, result: CommandResult) -> None:
        self.command_result = result
        self.step = Step.DONE
        self._set_status(
            lambda: result_text(result, self.tags, self.command, self.symbol), alarm=not result.ok
        )
        self.retranslate()
        self.finished_command.emit(result)

    def _operate_refused(self, error: BaseException) -> None:
        self._refuse(lambda: refusal_text(error, self.command))

    def _refuse(self, reason: Callable[[], str]) -> None:
        self.step = Step.REFUSED
        self._set_status(
            lambda: tr("Refused, nothing written: {reason}").format(reason=reason()), alarm=True
        )
        self.refused.emit(self._message)
        self.retranslate()

    def _cancel_selection(self) -> None:
        selection, session = self.selection, self.session
        self.selection = None
        if selection is not None and session is not None:
            # the point is freed by the core anyway when the selection expires
            self.context.call(self.context.client.cancel(session, selection.id), lambda _: None,
                              lambda _: None)  # fmt: skip

    def reject(self) -> None:
        """Close; a selection not yet operated is cancelled (a write under way goes on)."""
        self._closed = True
        if self.step in (Step.SELECTED, Step.REFUSED):
            self._cancel_selection()
        self.password.clear()
        self.approver_password.clear()
        super().reject()

    # ---- what it shows -------------------------------------------------------------------------

    def _show_needs(self, *, critical: bool, two_person: bool) -> None:
        self.password.setVisible(critical)
        self._password_label.setVisible(critical)
        self.critical_label.setVisible(critical)
        for widget in (self.approver, self.approver_password, self.approval_label,
                       self._form_labels[3], self._form_labels[4]):  # fmt: skip
            widget.setVisible(two_person)

    def _set_status(self, text: Callable[[], str], alarm: bool = False) -> None:
        """Show a status (a function: re-said in the new language after a switch)."""
        self._status = (text, alarm)
        self._show_status()

    def _show_status(self) -> None:
        text, alarm = self._status
        self._message = text()
        self.status.setText(self._message)
        self.status.setStyleSheet(_alarm_style() if alarm else "")

    def _current_text(self) -> str:
        if self.selection is not None:
            current = self.selection.current  # as the core saw it at select (None: not good)
        else:
            value = self._before
            current = value.value if value is not None and value.quality is Quality.GOOD else None
        if current is None:
            return tr("BAD")
        return target_text(self.tag, self.command.tag, current, self.symbol)

    def _limits_text(self) -> str:
        low, high = self.command.min, self.command.max
        if low is None and high is None:
            return tr("none")
        unit = self.tag.unit if self.tag else ""
        return f"{number_text(self.tag, low)} … {number_text(self.tag, high)} {unit}".strip()

    def _show_interlocks(self) -> None:
        for label in self._interlock_labels:
            self.interlocks.removeWidget(label)
            label.hide()
            label.deleteLater()
        self._interlock_labels.clear()
        if self.selection is not None:
            states = [(s.message, s.blocking) for s in self.selection.interlocks]
        else:
            states = [(lock.message_en, lock.message_en == self._blocking)
                      for lock in self.command.interlocks]  # fmt: skip
        for message, blocking in states:
            word = tr("Blocking") if blocking else tr("Clear")
            label = QLabel(f"{word}: {interlock_text(self.command, message)}", self)
            label.setObjectName("interlockBlocking" if blocking else "interlock")
            label.setProperty("blocking", blocking)
            label.setWordWrap(True)
            if blocking:
                label.setStyleSheet(_alarm_style())
            self.interlocks.addWidget(label)
            self._interlock_labels.append(label)

    def interlock_texts(self) -> list[tuple[str, bool]]:
        """The interlock lines shown and whether each blocks."""
        return [
            (label.text(), bool(label.property("blocking"))) for label in self._interlock_labels
        ]

    def retranslate(self, _code: str = "") -> None:
        """Re-set every text in the current language."""
        self.setWindowTitle(tr("Command {tag}").format(tag=self.command.tag))
        for label, text in zip(
            self._form_labels,
            ("Current", "Target", "Limits", "Second person", "Their password"),
            strict=True,
        ):
            label.setText(tr(text))
        self._password_label.setText(tr("Your password"))
        self.current.setText(self._current_text())
        self.target_label.setText(target_text(self.tag, self.command.tag, self.target, self.symbol))
        self.limits.setText(self._limits_text())
        self.critical_label.setText(tr("Critical: confirm with your password"))
        self.approval_label.setText(tr("Two-person command: a second person approves"))
        self._show_interlocks()
        self.confirm_button.setText(tr("Confirm"))
        self.confirm_button.setEnabled(self.step is Step.SELECTED and not self._blocking)
        self.confirm_button.setVisible(
            self.step in (Step.SELECTING, Step.SELECTED, Step.CONFIRMING)
        )
        finished = self.step in (Step.DONE, Step.REFUSED, Step.OPERATING)
        self.cancel_button.setText(tr("Close") if finished else tr("Cancel"))
        open_ = self.step in (Step.SELECTING, Step.SELECTED, Step.CONFIRMING)
        critical = self.selection.critical if self.selection else self.command.critical
        two_person = self.selection.two_person if self.selection else self.command.two_person
        self._show_needs(critical=critical and open_, two_person=two_person and open_)
        self._show_status()

    def showEvent(self, event: QShowEvent) -> None:
        """Put the cursor where the person types next."""
        super().showEvent(event)
        if self.password.isVisible():
            self.password.setFocus(Qt.FocusReason.OtherFocusReason)

"""Login, first start, lock and shift change at a seat.

- `LoginDialog`: user name and password; the core's refusal in words (the same text for an
  unknown user and a wrong password, the lockout with its end time); `session` after success.
- `FirstStartDialog`: while no user exists (`client.first_start()`), create the first
  administrator; the password policy's refusals are shown as the core states them.
- `LockDialog`: the seat is locked; who holds it, their password to unlock, or a shift change
  (`client.switch_user`: the new person logs in, then the previous one is logged out).

Every request is a future delivered on the Qt thread (`when_done`). Passwords are read from their
fields when sent and the fields cleared at once: never kept, never logged.
"""

from __future__ import annotations

import re
from datetime import datetime

from PySide6.QtCore import Signal
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

from hmi.client import RuntimeClient, Session
from hmi.security.errors import (
    AccountDisabled,
    AccountLocked,
    AuditUnavailable,
    AuthError,
    PasswordRefused,
    UserError,
)
from screens import i18n, theme
from screens.bridge import when_done
from screens.i18n import tr

__all__ = ["FirstStartDialog", "LockDialog", "LoginDialog", "error_text"]

_POLICY: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), text)
    for pattern, text in (
        (r"at least (?P<n>\d+) characters long",
         "The password must be at least {n} characters long"),
        (r"at most (?P<n>\d+) characters", "The password must be at most {n} characters long"),
        (r"start or end with a space", "The password must not start or end with a space"),
        (r"contain the user name", "The password must not contain the user name"),
        (r"at least (?P<n>\d+) kinds of characters",
         "The password must mix at least {n} kinds of characters "
         "(lower case, upper case, digits, others)"),
        (r"differ from the last (?P<n>\d+) passwords",
         "The password must differ from the last {n} passwords"),
        (r"bad user name", "The user name takes 1 to 100 letters, digits or _ . @ - (no spaces)"),
        (r"user '(?P<name>[^']*)' already exists", "User {name} already exists"),
        (r"the first user must hold a role", "The first user must be an administrator"),
    )
)  # fmt: skip


def error_text(error: BaseException) -> str:
    """A refusal of the security layer in the current language (never with a password)."""
    if isinstance(error, AccountLocked):
        until = datetime.fromtimestamp(error.until).strftime("%H:%M")
        return tr("Account {name} is locked after too many failed logins until {time}").format(
            name=error.name, time=until
        )
    if isinstance(error, AccountDisabled):
        return tr("Account {name} is disabled; ask an administrator").format(name=error.name)
    if isinstance(error, AuthError):
        if "session has ended" in str(error):
            return tr("The session has ended; log in again")
        return tr("Wrong user name or password")
    if isinstance(error, AuditUnavailable):
        return tr("The audit trail cannot record this, so it was refused")
    if isinstance(error, PasswordRefused | UserError):
        for pattern, text in _POLICY:
            found = pattern.search(str(error))
            if found:
                return tr(text).format(**found.groupdict())
        return str(error)
    return tr("The station did not answer: {error}").format(error=error)


def _error_label(parent: QWidget) -> QLabel:
    label = QLabel(parent)
    label.setObjectName("error")
    label.setWordWrap(True)
    label.setStyleSheet(f"color: {theme.PRIORITY[1].name()}; font-weight: bold;")
    return label


def _password_field(parent: QWidget, name: str) -> QLineEdit:
    field = QLineEdit(parent)
    field.setObjectName(name)
    field.setEchoMode(QLineEdit.EchoMode.Password)
    return field


class LoginDialog(QDialog):
    """User name and password; accepted with `session` set."""

    logged_in = Signal(object)  # the Session

    def __init__(self, client: RuntimeClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("loginDialog")
        self.setModal(True)
        self.client = client
        self.session: Session | None = None
        self.title = QLabel(self)
        self.title.setObjectName("title")
        self.user = QLineEdit(self)
        self.user.setObjectName("user")
        self.password = _password_field(self, "password")
        self.error = _error_label(self)
        self.login_button = QPushButton(self)
        self.login_button.setObjectName("loginButton")
        self.login_button.setDefault(True)
        self.login_button.clicked.connect(self.submit)
        self.password.returnPressed.connect(self.submit)
        self.cancel_button = QPushButton(self)
        self.cancel_button.clicked.connect(self.reject)
        self._labels = (QLabel(self), QLabel(self))
        form = QFormLayout()
        form.addRow(self._labels[0], self.user)
        form.addRow(self._labels[1], self.password)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.login_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        self._error: BaseException | None = None
        i18n.on_change(self.retranslate)
        self.retranslate()

    def submit(self) -> None:
        """Ask the station to log the person in."""
        name, password = self.user.text().strip(), self.password.text()
        self.password.clear()
        if not name or not password:
            self._error = AuthError()
            self.retranslate()
            return
        self.login_button.setEnabled(False)
        when_done(self.client.login(name, password), self._ok, self._refused, guard=self)

    def _ok(self, session: Session) -> None:
        self.session = session
        self._error = None
        self.login_button.setEnabled(True)
        self.logged_in.emit(session)
        self.accept()

    def _refused(self, error: BaseException) -> None:
        self._error = error
        self.login_button.setEnabled(True)
        self.password.setFocus()
        self.retranslate()

    def retranslate(self, _code: str = "") -> None:
        """Re-set every text in the current language."""
        self.setWindowTitle(tr("Log in"))
        self.title.setText(tr("Log in to operate the plant"))
        self._labels[0].setText(tr("User name"))
        self._labels[1].setText(tr("Password"))
        self.login_button.setText(tr("Log in"))
        self.cancel_button.setText(tr("Cancel"))
        self.error.setText("" if self._error is None else error_text(self._error))
        self.error.setVisible(self._error is not None)


class FirstStartDialog(QDialog):
    """Create the first administrator of a station without users; accepted with `session` set."""

    created = Signal(object)  # the administrator's Session

    def __init__(self, client: RuntimeClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("firstStartDialog")
        self.setModal(True)
        self.client = client
        self.session: Session | None = None
        self.intro = QLabel(self)
        self.intro.setWordWrap(True)
        self.user = QLineEdit(self)
        self.user.setObjectName("user")
        self.full_name = QLineEdit(self)
        self.full_name.setObjectName("fullName")
        self.password = _password_field(self, "password")
        self.repeat = _password_field(self, "repeat")
        self.error = _error_label(self)
        self.create_button = QPushButton(self)
        self.create_button.setObjectName("createButton")
        self.create_button.setDefault(True)
        self.create_button.clicked.connect(self.submit)
        self._labels = tuple(QLabel(self) for _ in range(4))
        form = QFormLayout()
        for label, field in zip(
            self._labels, (self.user, self.full_name, self.password, self.repeat), strict=True
        ):
            form.addRow(label, field)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.create_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        self._error: BaseException | str | None = None
        i18n.on_change(self.retranslate)
        self.retranslate()

    def submit(self) -> None:
        """Check the two passwords match, then ask the station to create the administrator."""
        name, full = self.user.text().strip(), self.full_name.text().strip()
        password, repeat = self.password.text(), self.repeat.text()
        self.password.clear()
        self.repeat.clear()
        if not name:
            self._error = "Enter a user name"
        elif password != repeat:
            self._error = "The two passwords differ"
        else:
            self.create_button.setEnabled(False)
            future = self.client.create_first_admin(name, password, full)
            when_done(future, self._ok, self._refused, guard=self)
            return
        self.retranslate()

    def _ok(self, session: Session) -> None:
        self.session = session
        self._error = None
        self.create_button.setEnabled(True)
        self.created.emit(session)
        self.accept()

    def _refused(self, error: BaseException) -> None:
        self._error = error
        self.create_button.setEnabled(True)
        self.retranslate()

    def retranslate(self, _code: str = "") -> None:
        """Re-set every text in the current language."""
        self.setWindowTitle(tr("First start"))
        self.intro.setText(
            tr("This station has no users yet. Create the first administrator, who adds the rest.")
        )
        for label, text in zip(
            self._labels, ("User name", "Full name", "Password", "Repeat the password"), strict=True
        ):
            label.setText(tr(text))
        self.create_button.setText(tr("Create administrator"))
        error = self._error
        if error is None:
            self.error.setText("")
        elif isinstance(error, str):
            self.error.setText(tr(error))
        else:
            self.error.setText(error_text(error))
        self.error.setVisible(error is not None)


class LockDialog(QDialog):
    """The seat is locked: the same person unlocks with their password, or another takes over."""

    unlocked = Signal(object)  # the same Session, unlocked
    switched = Signal(object)  # the new person's Session (the previous one is logged out)

    def __init__(
        self, client: RuntimeClient, session: Session, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("lockDialog")
        self.setModal(True)
        self.client = client
        self.session = session
        self.who = QLabel(self)
        self.who.setObjectName("title")
        self.password = _password_field(self, "password")
        self.password.returnPressed.connect(self.unlock)
        self.unlock_button = QPushButton(self)
        self.unlock_button.setObjectName("unlockButton")
        self.unlock_button.setDefault(True)
        self.unlock_button.clicked.connect(self.unlock)
        self.switch_label = QLabel(self)
        self.switch_label.setWordWrap(True)
        self.new_user = QLineEdit(self)
        self.new_user.setObjectName("newUser")
        self.new_password = _password_field(self, "newPassword")
        self.switch_button = QPushButton(self)
        self.switch_button.setObjectName("switchButton")
        self.switch_button.clicked.connect(self.switch)
        self.error = _error_label(self)
        self._labels = tuple(QLabel(self) for _ in range(3))
        unlock_form = QFormLayout()
        unlock_form.addRow(self._labels[0], self.password)
        switch_form = QFormLayout()
        switch_form.addRow(self._labels[1], self.new_user)
        switch_form.addRow(self._labels[2], self.new_password)
        layout = QVBoxLayout(self)
        layout.addWidget(self.who)
        layout.addLayout(unlock_form)
        layout.addWidget(self.unlock_button)
        layout.addWidget(self.switch_label)
        layout.addLayout(switch_form)
        layout.addWidget(self.switch_button)
        layout.addWidget(self.error)
        self._error: BaseException | None = None
        i18n.on_change(self.retranslate)
        self.retranslate()

    def unlock(self) -> None:
        """Unlock with the locked person's password."""
        password = self.password.text()
        self.password.clear()
        if not password:
            return
        self._busy(True)
        when_done(self.client.unlock(self.session, password), self._unlocked, self._refused,
                  guard=self)  # fmt: skip

    def switch(self) -> None:
        """Shift change: another person logs in at this seat."""
        name, password = self.new_user.text().strip(), self.new_password.text()
        self.new_password.clear()
        if not name or not password:
            return
        self._busy(True)
        future = self.client.switch_user(self.session, name, password)
        when_done(future, self._switched, self._refused, guard=self)

    def _busy(self, busy: bool) -> None:
        self.unlock_button.setEnabled(not busy)
        self.switch_button.setEnabled(not busy)

    def _unlocked(self, _none: object) -> None:
        self._busy(False)
        self._error = None
        self.unlocked.emit(self.session)
        self.accept()

    def _switched(self, session: Session) -> None:
        self._busy(False)
        self._error = None
        self.session = session
        self.switched.emit(session)
        self.accept()

    def _refused(self, error: BaseException) -> None:
        self._busy(False)
        self._error = error
        self.retranslate()

    def retranslate(self, _code: str = "") -> None:
        """Re-set every text in the current language."""
        self.setWindowTitle(tr("Seat locked"))
        who = self.session.user
        if self.session.full_name:
            who = f"{self.session.full_name} ({self.session.user})"
        self.who.setText(tr("This seat is locked by {who}").format(who=who))
        self._labels[0].setText(tr("Password"))
        self.unlock_button.setText(tr("Unlock"))
        self.switch_label.setText(tr("Shift change: another person logs in here"))
        self._labels[1].setText(tr("User name"))
        self._labels[2].setText(tr("Password"))
        self.switch_button.setText(tr("Switch user"))
        self.error.setText("" if self._error is None else error_text(self._error))
        self.error.setVisible(self._error is not None)

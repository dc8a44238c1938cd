"""The administration dialogs: add a user, edit roles, disable or enable, reset a password.

Each dialog sends its request through the client and stays open until the core answers: on a
refusal it shows the reason (the password policy's rule, a duplicate name...) and lets the
person correct it; on success it closes. Passwords live only in Password-echo fields and are
cleared as soon as they are read: they are never logged nor kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from hmi.client import Session
from hmi.security.permissions import ANY_AREA, DEFAULT_ROLES, RoleGrant, parse_grants
from screens import i18n
from screens.admin.texts import refusal_text, role_text
from screens.context import AppContext
from screens.i18n import tr

__all__ = ["AddUserDialog", "DisableDialog", "PasswordDialog", "RoleEditor", "RolesDialog"]


class RoleEditor(QWidget):
    """A checkbox per role, each with an optional list of areas (empty: every area)."""

    def __init__(self, roles: Iterable[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        known = list(DEFAULT_ROLES)
        ordered = sorted(roles, key=lambda r: (known.index(r) if r in known else len(known), r))
        self.checks: dict[str, QCheckBox] = {}
        self.areas: dict[str, QLineEdit] = {}
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        for row, role in enumerate(ordered):
            check, areas = QCheckBox(self), QLineEdit(self)
            areas.setEnabled(False)
            check.toggled.connect(areas.setEnabled)
            self.checks[role], self.areas[role] = check, areas
            grid.addWidget(check, row, 0)
            grid.addWidget(areas, row, 1)
        self.retranslate()

    def retranslate(self) -> None:
        """Redraw the role names and hints in the current language."""
        for role, check in self.checks.items():
            check.setText(role_text(role))
            self.areas[role].setPlaceholderText(tr("every area, or areas such as SS1, SS2"))

    def set_grants(self, grants: Iterable[RoleGrant]) -> None:
        """Check the roles held and fill in their areas."""
        by_role: dict[str, list[str]] = {}
        for grant in grants:
            by_role.setdefault(grant.role, []).append(grant.area)
        for role, check in self.checks.items():
            areas = by_role.get(role)
            check.setChecked(areas is not None)
            shown = [] if areas is None or ANY_AREA in areas else sorted(areas)
            self.areas[role].setText(", ".join(shown))

    def grants(self) -> list[RoleGrant]:
        """The grants checked (ValueError for an empty area between commas)."""
        out: list[RoleGrant] = []
        for role, check in self.checks.items():
            if not check.isChecked():
                continue
            areas = [a for a in re.split(r"[,\s]+", self.areas[role].text().strip()) if a]
            out += parse_grants(f"{role}:{','.join(areas)}" if areas else role)
        return out


class RequestDialog(QDialog):
    """A dialog that sends one request and closes when the core accepts it."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._context = context
        self.result_message = ""  # what was done, for the screen's status line
        self.form = QFormLayout()
        self.error = QLabel(self)
        self.error.setObjectName("dialogError")
        self.error.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        i18n.on_change(self._retranslate)

    @property
    def ok_button(self) -> QPushButton:
        """The button that sends the request."""
        return self.buttons.button(QDialogButtonBox.StandardButton.Ok)

    @property
    def cancel_button(self) -> QPushButton:
        """The button that closes without a change."""
        return self.buttons.button(QDialogButtonBox.StandardButton.Cancel)

    def _retranslate(self, _code: str = "") -> None:
        self.retranslate()

    def retranslate(self) -> None:
        """Redraw every text in the current language."""
        self.cancel_button.setText(tr("Cancel"))

    def submit(self) -> None:
        """Check the input and send the request."""
        raise NotImplementedError

    def _session(self) -> Session | None:
        session = self._context.session
        if session is None:
            self.error.setText(tr("Nobody is logged in."))
        return session

    def _send(self, future: Future[Any], message: str) -> None:
        self.error.clear()
        self.ok_button.setEnabled(False)
        self._context.touch()
        self._context.call(future, lambda _: self._accepted(message), self._refused, guard=self)

    def _accepted(self, message: str) -> None:
        self.result_message = message
        self.accept()

    def _refused(self, error: BaseException) -> None:
        self.ok_button.setEnabled(True)
        self.error.setText(refusal_text(error))


def _password_field(parent: QWidget) -> QLineEdit:
    field = QLineEdit(parent)
    field.setEchoMode(QLineEdit.EchoMode.Password)
    return field


class _PasswordPair:
    """A new password typed twice; read once, then cleared."""

    def __init__(self, parent: QWidget) -> None:
        self.password = _password_field(parent)
        self.repeat = _password_field(parent)

    def take(self) -> str | None:
        """The password when both fields match (None otherwise); both fields are cleared."""
        first, second = self.password.text(), self.repeat.text()
        self.password.clear()
        self.repeat.clear()
        return first if first == second else None


class AddUserDialog(RequestDialog):
    """A new user: name, full name, password typed twice, roles with areas."""

    def __init__(
        self, context: AppContext, roles: Iterable[str], parent: QWidget | None = None
    ) -> None:
        super().__init__(context, parent)
        self.name = QLineEdit(self)
        self.full_name = QLineEdit(self)
        self.passwords = _PasswordPair(self)
        self.roles = RoleEditor(roles, self)
        self.hint = QLabel(self)
        self.hint.setObjectName("hint")
        self.hint.setWordWrap(True)
        self._labels = [QLabel(self) for _ in range(5)]
        fields = (self.name, self.full_name, self.passwords.password, self.passwords.repeat)
        for label, field in zip(self._labels, (*fields, self.roles), strict=True):
            self.form.addRow(label, field)
        self.form.addRow(self.hint)
        self.setMinimumWidth(560)
        self.retranslate()

    def retranslate(self) -> None:
        """Redraw every text in the current language."""
        super().retranslate()
        self.setWindowTitle(tr("Add user"))
        texts = ("User name", "Full name", "Password", "Repeat password", "Roles")
        for label, text in zip(self._labels, texts, strict=True):
            label.setText(tr(text))
        self.hint.setText(
            tr(
                "At least 10 characters of at least 2 kinds (lower case, upper case, digits, "
                "others), without the user name."
            )
        )
        self.ok_button.setText(tr("Add user"))
        self.roles.retranslate()

    def submit(self) -> None:
        """Check the input and ask the core to add the user."""
        password = self.passwords.take()
        session = self._session()
        if session is None:
            return
        name = self.name.text().strip()
        if not name:
            self.error.setText(tr("Enter a user name."))
            return
        if password is None:
            self.error.setText(tr("The two passwords differ: type them again."))
            return
        try:
            grants = self.roles.grants()
        except ValueError as error:
            self.error.setText(refusal_text(error))
            return
        if not grants:
            self.error.setText(tr("A user needs at least one role."))
            return
        future = self._context.client.add_user(
            session, name, password, grants, self.full_name.text().strip()
        )
        self._send(future, tr("User {name} added.").format(name=name))


class RolesDialog(RequestDialog):
    """Replace one user's roles and areas."""

    def __init__(
        self,
        context: AppContext,
        user: str,
        roles: Iterable[str],
        grants: Iterable[RoleGrant],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(context, parent)
        self.user = user
        self.roles = RoleEditor(roles, self)
        self.roles.set_grants(grants)
        self.note = QLabel(self)
        self.note.setWordWrap(True)
        self.form.addRow(self.roles)
        self.form.addRow(self.note)
        self.setMinimumWidth(480)
        self.retranslate()

    def retranslate(self) -> None:
        """Redraw every text in the current language."""
        super().retranslate()
        self.setWindowTitle(tr("Roles of {name}").format(name=self.user))
        self.note.setText(tr("The new roles apply from the user's next login."))
        self.ok_button.setText(tr("Save roles"))
        self.roles.retranslate()

    def submit(self) -> None:
        """Ask the core to replace the user's grants."""
        session = self._session()
        if session is None:
            return
        try:
            grants = self.roles.grants()
        except ValueError as error:
            self.error.setText(refusal_text(error))
            return
        if not grants:
            self.error.setText(tr("A user needs at least one role."))
            return
        future = self._context.client.set_roles(session, self.user, grants)
        self._send(future, tr("Roles of {name} saved.").format(name=self.user))


class DisableDialog(RequestDialog):
    """Disable or enable one user, with a reason for the audit trail."""

    def __init__(
        self, context: AppContext, user: str, disable: bool, parent: QWidget | None = None
    ) -> None:
        super().__init__(context, parent)
        self.user = user
        self.disable = disable
        self.reason = QLineEdit(self)
        self._label = QLabel(self)
        self.form.addRow(self._label, self.reason)
        self.retranslate()

    def retranslate(self) -> None:
        """Redraw every text in the current language."""
        super().retranslate()
        if self.disable:
            self.setWindowTitle(tr("Disable {name}").format(name=self.user))
            self.ok_button.setText(tr("Disable"))
        else:
            self.setWindowTitle(tr("Enable {name}").format(name=self.user))
            self.ok_button.setText(tr("Enable"))
        self._label.setText(tr("Reason"))

    def submit(self) -> None:
        """Ask the core to disable or enable the user."""
        session = self._session()
        if session is None:
            return
        reason = self.reason.text().strip()
        future = self._context.client.set_disabled(session, self.user, self.disable, reason)
        done = tr("User {name} disabled.") if self.disable else tr("User {name} enabled.")
        self._send(future, done.format(name=self.user))


class PasswordDialog(RequestDialog):
    """Give one user a new password (typed twice)."""

    def __init__(self, context: AppContext, user: str, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.user = user
        self.passwords = _PasswordPair(self)
        self._labels = [QLabel(self), QLabel(self)]
        self.form.addRow(self._labels[0], self.passwords.password)
        self.form.addRow(self._labels[1], self.passwords.repeat)
        self.retranslate()

    def retranslate(self) -> None:
        """Redraw every text in the current language."""
        super().retranslate()
        self.setWindowTitle(tr("New password for {name}").format(name=self.user))
        self._labels[0].setText(tr("New password"))
        self._labels[1].setText(tr("Repeat password"))
        self.ok_button.setText(tr("Set password"))

    def submit(self) -> None:
        """Ask the core to set the new password."""
        password = self.passwords.take()
        session = self._session()
        if session is None:
            return
        if password is None:
            self.error.setText(tr("The two passwords differ: type them again."))
            return
        future = self._context.client.reset_password(session, self.user, password)
        self._send(future, tr("New password set for {name}.").format(name=self.user))


def role_names(roles: Mapping[str, frozenset[str]] | None) -> list[str]:
    """The roles to offer: the store's, or the defaults before its answer came."""
    return list(roles) if roles else list(DEFAULT_ROLES)

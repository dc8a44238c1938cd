"""The Users tab: every user with roles, state and login history, and the actions on them.

The list and the roles are requested through the client (which checks `manage_users`); each
action opens a dialog (`screens.admin.dialogs`) that sends its request and closes once the
core accepted it, after which the list is asked for again.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
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

from hmi.client import UserInfo
from screens import i18n, theme
from screens.admin.dialogs import (
    AddUserDialog,
    DisableDialog,
    PasswordDialog,
    RequestDialog,
    RolesDialog,
    role_names,
)
from screens.admin.texts import grants_text, refusal_text, time_text
from screens.context import AppContext
from screens.i18n import tr
from screens.widgets.table import ColumnsTableModel

__all__ = ["USER_COLUMNS", "UsersModel", "UsersTab"]

ModelIndex = QModelIndex | QPersistentModelIndex

USER_COLUMNS = (
    "User name",
    "Full name",
    "Roles (areas)",
    "Disabled",
    "Locked until",
    "Password changed",
    "Failed logins",
)
COL_NAME, COL_FULL, COL_ROLES, COL_DISABLED, COL_LOCKED, COL_CHANGED, COL_FAILED = range(
    len(USER_COLUMNS)
)


class UsersModel(ColumnsTableModel):
    """One row per user, as the core lists them."""

    COLUMNS = USER_COLUMNS

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._users: list[UserInfo] = []

    def row_count(self) -> int:
        """Number of rows shown."""
        return len(self._users)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Cell texts; a disabled or locked account marked."""
        if not index.isValid():
            return None
        user, col = self._users[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(user, col)
        locked = user.locked_until is not None and user.locked_until > time.time()
        if role == Qt.ItemDataRole.ForegroundRole and (user.disabled or locked):
            return theme.TEXT_DIM
        if role == Qt.ItemDataRole.TextAlignmentRole and col == COL_FAILED:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _display(user: UserInfo, col: int) -> str:
        if col == COL_NAME:
            return user.name
        if col == COL_FULL:
            return user.full_name
        if col == COL_ROLES:
            return grants_text(user.grants)
        if col == COL_DISABLED:
            return tr("disabled") if user.disabled else ""
        if col == COL_LOCKED:
            locked = user.locked_until is not None and user.locked_until > time.time()
            return time_text(user.locked_until) if locked else ""
        if col == COL_CHANGED:
            return time_text(user.password_changed)
        return str(user.failed_count)

    def show(self, users: list[UserInfo]) -> None:
        """Show this list of users."""
        self.beginResetModel()
        self._users = sorted(users, key=lambda u: u.name)
        self.endResetModel()

    def user(self, row: int) -> UserInfo:
        """The user shown in a row."""
        return self._users[row]

    def names(self) -> list[str]:
        """The user names shown, in row order."""
        return [u.name for u in self._users]

    def retranslate(self) -> None:
        """Redraw the headers and texts in the current language."""
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(USER_COLUMNS) - 1)
        if self._users:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._users) - 1, len(USER_COLUMNS) - 1)
            )


class UsersTab(QWidget):
    """The user table and its actions: add, edit roles, disable or enable, reset password."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._context = context
        self._roles: dict[str, frozenset[str]] | None = None
        self.dialog: RequestDialog | None = None  # the open dialog, if any
        self.model = UsersModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)

        self.add_button = QPushButton(self)
        self.roles_button = QPushButton(self)
        self.disable_button = QPushButton(self)
        self.password_button = QPushButton(self)
        self.refresh_button = QPushButton(self)
        self.add_button.clicked.connect(self.add_user)
        self.roles_button.clicked.connect(self.edit_roles)
        self.disable_button.clicked.connect(self.toggle_disabled)
        self.password_button.clicked.connect(self.reset_password)
        self.refresh_button.clicked.connect(self.reload)
        self.status = QLabel(self)
        self.status.setObjectName("status")

        buttons = QHBoxLayout()
        for button in (
            self.add_button,
            self.roles_button,
            self.disable_button,
            self.password_button,
        ):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)
        i18n.on_change(self.retranslate)
        self.retranslate()

    # ---- data ---------------------------------------------------------------------------------

    def reload(self) -> None:
        """Ask the core for the users and roles again."""
        session = self._context.session
        if session is None:
            return
        client = self._context.client
        self._context.call(client.users(session), self._show_users, self._refused, guard=self)
        self._context.call(client.roles(session), self._show_roles, self._refused, guard=self)

    def clear(self) -> None:
        """Forget what was shown (the person logged out)."""
        self.model.show([])
        self._roles = None
        self.status.clear()
        self._update_buttons()

    def _show_users(self, users: list[UserInfo]) -> None:
        selected = self.selected()
        self.model.show(users)
        if selected is not None:
            self.select(selected.name)
        self._update_buttons()

    def _show_roles(self, roles: dict[str, frozenset[str]]) -> None:
        self._roles = roles

    def _refused(self, error: BaseException) -> None:
        self.status.setText(refusal_text(error))

    def selected(self) -> UserInfo | None:
        """The user selected in the table."""
        rows = self.table.selectionModel().selectedRows()
        return self.model.user(rows[0].row()) if rows else None

    def select(self, name: str) -> None:
        """Select a user's row."""
        if name in self.model.names():
            self.table.selectRow(self.model.names().index(name))

    def _update_buttons(self, *_: object) -> None:
        user = self.selected()
        for button in (self.roles_button, self.disable_button, self.password_button):
            button.setEnabled(user is not None)
        disabled = user is not None and user.disabled
        self.disable_button.setText(tr("Enable…") if disabled else tr("Disable…"))

    # ---- actions ------------------------------------------------------------------------------

    def add_user(self) -> None:
        """Open the dialog that adds a user."""
        self._open(AddUserDialog(self._context, role_names(self._roles), self))

    def edit_roles(self) -> None:
        """Open the dialog that changes the selected user's roles."""
        user = self.selected()
        if user is not None:
            roles = role_names(self._roles)
            self._open(RolesDialog(self._context, user.name, roles, user.grants, self))

    def toggle_disabled(self) -> None:
        """Open the dialog that disables (or enables) the selected user."""
        user = self.selected()
        if user is not None:
            self._open(DisableDialog(self._context, user.name, not user.disabled, self))

    def reset_password(self) -> None:
        """Open the dialog that sets a new password for the selected user."""
        user = self.selected()
        if user is not None:
            self._open(PasswordDialog(self._context, user.name, self))

    def _open(self, dialog: RequestDialog) -> None:
        if self.dialog is not None:
            self.dialog.close()
        self.dialog = dialog
        dialog.accepted.connect(lambda: self._done(dialog))
        dialog.finished.connect(lambda _result: self._forget(dialog))
        dialog.open()

    def _done(self, dialog: RequestDialog) -> None:
        self.status.setText(dialog.result_message)
        self.reload()

    def _forget(self, dialog: RequestDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None
        dialog.deleteLater()

    def retranslate(self, _code: str = "") -> None:
        """Redraw every text in the current language."""
        self.add_button.setText(tr("Add user…"))
        self.roles_button.setText(tr("Edit roles…"))
        self.password_button.setText(tr("Reset password…"))
        self.refresh_button.setText(tr("Refresh"))
        self._update_buttons()
        self.model.retranslate()

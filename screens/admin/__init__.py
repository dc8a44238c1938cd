"""The administration screen: users and the audit trail, for people who may manage users.

Without `manage_users` the screen says so and offers nothing. That is a courtesy: the core
checks the permission on every request (`hmi.security.admin`), whatever a screen offers.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStackedWidget, QTabWidget, QVBoxLayout, QWidget

from hmi.client import Session
from screens import i18n
from screens.admin.audit import AuditTab
from screens.admin.users import UsersTab
from screens.context import AppContext
from screens.i18n import tr

__all__ = ["MANAGE_USERS", "AdminScreen"]

MANAGE_USERS = "manage_users"


class AdminScreen(QWidget):
    """Users and Audit tabs, shown only to a person holding `manage_users` in every area."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("adminScreen")
        self._context = context
        self.denied = QLabel(self)
        self.denied.setObjectName("denied")
        self.users = UsersTab(context, self)
        self.audit = AuditTab(context, self)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.users, "")
        self.tabs.addTab(self.audit, "")
        self.tabs.currentChanged.connect(self._tab_shown)
        self._stack = QStackedWidget(self)
        self._stack.addWidget(self.denied)
        self._stack.addWidget(self.tabs)
        layout = QVBoxLayout(self)
        layout.addWidget(self._stack)
        context.session_changed.connect(self._session_changed)
        i18n.on_change(self.retranslate)
        self.retranslate()
        self._session_changed(context.session)

    @property
    def allowed(self) -> bool:
        """True when the person at this seat may manage users (and the tabs are offered)."""
        return self._stack.currentWidget() is self.tabs

    def _session_changed(self, _session: Session | None) -> None:
        allowed = self._context.may(MANAGE_USERS)
        self.tabs.setEnabled(allowed)
        self._stack.setCurrentWidget(self.tabs if allowed else self.denied)
        if allowed:
            self.users.reload()
            if self.tabs.currentWidget() is self.audit:
                self.audit.load()
        else:
            self.users.clear()
            self.audit.clear()

    def _tab_shown(self, index: int) -> None:
        if self.tabs.widget(index) is self.audit and self.allowed:
            self.audit.load()

    def retranslate(self, _code: str = "") -> None:
        """Redraw every text in the current language."""
        self.setWindowTitle(tr("Administration"))
        self.denied.setText(tr("You need the manage_users permission."))
        self.tabs.setTabText(self.tabs.indexOf(self.users), tr("Users"))
        self.tabs.setTabText(self.tabs.indexOf(self.audit), tr("Audit"))

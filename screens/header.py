"""The header strip on every screen: plant, clock, who is logged in, language and theme."""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QWidget

from hmi.client import Session
from screens import i18n, theme
from screens.i18n import tr

__all__ = ["Header"]


def roles_text(session: Session) -> str:
    """A session's role grants as a person reads them: "operator (SS1, SS2)"."""
    by_role: dict[str, list[str]] = {}
    for grant in session.roles:
        by_role.setdefault(grant.role, []).append(grant.area)
    parts = []
    for role, areas in by_role.items():
        named = tr(role)
        parts.append(named if "*" in areas else f"{named} ({', '.join(sorted(areas))})")
    return ", ".join(parts)


class Header(QWidget):
    """Plant name, clock, user and role, log in/out, lock, language and day/night switches."""

    login_requested = Signal()
    logout_requested = Signal()
    lock_requested = Signal()
    language_chosen = Signal(str)
    theme_chosen = Signal(str)

    def __init__(self, plant: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("header")
        self.setAutoFillBackground(True)
        self.plant = QLabel(plant, self)
        self.plant.setObjectName("plant")
        self.clock = QLabel(self)
        self.clock.setObjectName("clock")
        self.user = QLabel(self)
        self.user.setObjectName("user")
        self.login = QPushButton(self)
        self.login.setObjectName("login")
        self.lock = QPushButton(self)
        self.lock.setObjectName("lock")
        self.language = QComboBox(self)
        self.language.setObjectName("language")
        for code in i18n.LANGUAGES:
            self.language.addItem(i18n.LANGUAGE_NAMES[code], code)
        self.night = QPushButton(self)
        self.night.setObjectName("night")
        self.night.setCheckable(True)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        row.addWidget(self.plant)
        row.addStretch(1)
        row.addWidget(self.clock)
        row.addStretch(1)
        row.addWidget(self.user)
        row.addWidget(self.login)
        row.addWidget(self.lock)
        row.addWidget(self.language)
        row.addWidget(self.night)
        self._session: Session | None = None
        self.login.clicked.connect(self._login_clicked)
        self.lock.clicked.connect(self.lock_requested)
        self.language.currentIndexChanged.connect(
            lambda i: self.language_chosen.emit(self.language.itemData(i))
        )
        self.night.toggled.connect(lambda on: self.theme_chosen.emit("night" if on else "day"))
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._tick)
        self._timer.start()
        self._tick()
        i18n.on_change(self.retranslate)
        theme.on_change(self._theme_changed)
        self.retranslate()

    def _login_clicked(self) -> None:
        if self._session is None:
            self.login_requested.emit()
        else:
            self.logout_requested.emit()

    def _tick(self) -> None:
        text = time.strftime("%Y-%m-%d %H:%M:%S")
        if self.clock.text() != text:
            self.clock.setText(text)

    def _theme_changed(self, variant: str) -> None:
        self.night.blockSignals(True)
        self.night.setChecked(variant == "night")
        self.night.blockSignals(False)

    def set_session(self, session: Session | None) -> None:
        """Show who is logged in (None: nobody, view only)."""
        self._session = session
        self.retranslate()

    def set_language(self, code: str) -> None:
        """Select `code` in the language box without announcing it."""
        self.language.blockSignals(True)
        self.language.setCurrentIndex(max(0, self.language.findData(code)))
        self.language.blockSignals(False)

    def retranslate(self, _code: str = "") -> None:
        """Re-set every text in the current language."""
        session = self._session
        if session is None:
            self.user.setText(tr("Not logged in (view only)"))
            self.login.setText(tr("Log in"))
        else:
            name = session.full_name or session.name
            self.user.setText(f"{name} · {roles_text(session)}")
            self.login.setText(tr("Log out"))
        self.lock.setText(tr("Lock"))
        self.lock.setEnabled(session is not None)
        self.night.setText(tr("Night"))
        self.night.setToolTip(tr("Dark colours for the night shift"))
        self.language.setToolTip(tr("Language"))

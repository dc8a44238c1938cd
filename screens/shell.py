"""The main window: header, alarm banner, navigation, the screens, and their own windows.

Screens are built on first visit and kept. One Refresher pulls the coalesced changes; the shell
keeps the latest value of every tag and hands changes only to what is on view (the current
screen, screens opened in their own windows, open faceplates); a screen shown again catches up
from the latest values at once. Alarm changes go to everything that shows alarms (cheap: they
are merged in place). The window's geometry, the last screen, the language, the theme and the
screens opened in their own windows are restored on restart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QEvent, QObject, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from hmi.client import AlarmView, RuntimeClient, ScreenDef, Session
from hmi.screen_config import SymbolDef
from hmi.tags import Value
from screens import i18n, theme
from screens.admin import AdminScreen
from screens.alarms import AlarmBanner, AlarmPanel, Horn
from screens.context import AppContext
from screens.diagnostics import DiagnosticsScreen
from screens.diagram import DiagramView
from screens.dialogs.login import FirstStartDialog, LockDialog, LoginDialog
from screens.header import Header
from screens.i18n import tr
from screens.refresh import Refresher
from screens.reports import ReportsScreen
from screens.tag_browser import TagBrowser

if TYPE_CHECKING:  # built on first use: pyqtgraph and openpyxl are not loaded at start
    from screens.faceplate import Faceplate

__all__ = ["MainWindow", "ScreenWindow"]

log = logging.getLogger("screens.shell")

SECTIONS = ("trends", "alarms", "reports", "diagnostics", "tags", "admin")
SECTION_TITLES = {
    "trends": "Trends",
    "alarms": "Alarms",
    "reports": "Reports",
    "diagnostics": "Diagnostics",
    "tags": "Tags",
    "admin": "Administration",
}
IDLE_CHECK_MS = 5000
ACTIVITY = frozenset({QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.Wheel})


class ScreenWindow(QMainWindow):
    """A screen in a window of its own (a second monitor)."""

    def __init__(
        self, key: str, page: QWidget, title: Callable[[], str], banner: AlarmBanner
    ) -> None:
        super().__init__()
        self.key = key
        self.page = page
        self.banner = banner  # the alarm banner is on every screen, here too
        self._title = title
        body = QWidget(self)
        column = QVBoxLayout(body)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(banner)
        column.addWidget(page, 1)
        self.setCentralWidget(body)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        i18n.on_change(self.retranslate)
        self.retranslate()

    def retranslate(self, _code: str = "") -> None:
        """Re-set the title in the current language."""
        self.setWindowTitle(f"Conduit HMI — {self._title()}")


class MainWindow(QMainWindow):
    """Header, alarm banner, navigation and the screens of one seat."""

    def __init__(
        self,
        client: RuntimeClient,
        *,
        settings: QSettings | None = None,
        refresh_ms: int = 200,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.client = client
        self.settings = settings or QSettings()
        self.refresher = Refresher(client, interval_ms=refresh_ms, parent=self)
        self.context = AppContext(client, self.refresher, self)
        self.screen_defs: dict[str, ScreenDef] = dict(client.screens())
        self.latest: dict[str, Value] = {}
        self.pages: dict[str, QWidget] = {}
        self.windows: dict[str, ScreenWindow] = {}
        self.faceplates: dict[str, Faceplate] = {}  # open faceplates by symbol id
        self.current = ""
        self._back: list[str] = []
        self._forward: list[str] = []
        self.setObjectName("main")
        self.resize(1400, 860)

        self.header = Header(client.project_name, self)
        self.horn = Horn(self)
        self.banner = AlarmBanner(self.context, self, horn=self.horn)
        self.banner.open_alarms.connect(lambda: self.show_page("alarms"))
        self.nav = QWidget(self)
        self.nav.setObjectName("navigation")
        self.stack = QStackedWidget(self)
        self.buttons: dict[str, QToolButton] = {}
        self._build_navigation()
        body = QWidget(self)
        column = QVBoxLayout(body)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        for part in (self.header, self.banner, self.nav):
            column.addWidget(part)
        column.addWidget(self.stack, 1)
        self.setCentralWidget(body)
        self.links = QLabel(self)
        self.statusBar().addPermanentWidget(self.links)

        self.refresher.subscribe(self._on_changes)
        self.refresher.subscribe_alarms(self._on_alarms)
        self.header.login_requested.connect(self.log_in)
        self.header.logout_requested.connect(self.log_out)
        self.header.lock_requested.connect(self.lock)
        self.header.language_chosen.connect(self.set_language)
        self.header.theme_chosen.connect(self.set_theme)
        self.context.session_changed.connect(self._session_changed)
        self._links_timer = QTimer(self)
        self._links_timer.setInterval(1000)
        self._links_timer.timeout.connect(self._show_links)
        self._idle_timer = QTimer(self)
        self._idle_timer.setInterval(IDLE_CHECK_MS)
        self._idle_timer.timeout.connect(self._check_idle)
        self._lock_dialog: LockDialog | None = None
        app = QApplication.instance()
        if app is not None:  # a key or a click anywhere in the application postpones the idle lock
            app.installEventFilter(self)
        i18n.on_change(self.retranslate)
        self.retranslate()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Note activity (keys, clicks, the wheel) for the idle lock; never consumes events."""
        if event.type() in ACTIVITY:
            self.context.touch()
        return False

    # --- navigation ---------------------------------------------------------------------------

    def _tool(self, name: str, slot: Callable[[], None], *, checkable: bool = True) -> QToolButton:
        button = QToolButton(self.nav)
        button.setObjectName(f"nav_{name}")
        button.setCheckable(checkable)
        button.setAutoRaise(True)
        button.clicked.connect(slot)
        self.buttons[name] = button
        return button

    def _build_navigation(self) -> None:
        row = QHBoxLayout(self.nav)
        row.setContentsMargins(4, 0, 4, 0)
        row.setSpacing(2)
        row.addWidget(self._tool("back", self.back, checkable=False))
        row.addWidget(self._tool("forward", self.forward, checkable=False))
        row.addWidget(self._tool("overview", lambda: self.show_page(self._overview_key())))
        stations = self._tool("stations", lambda: None)
        stations.setCheckable(True)
        stations.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.stations_menu = QMenu(stations)
        stations.setMenu(self.stations_menu)
        row.addWidget(stations)
        for section in SECTIONS:
            row.addWidget(self._tool(section, partial(self.show_page, section)))
        row.addStretch(1)
        row.addWidget(self._tool("new_window", self._open_current_in_window, checkable=False))
        row.addWidget(self._tool("full_screen", self.toggle_full_screen, checkable=False))
        self.full_screen_action = QAction(self)
        self.full_screen_action.setShortcut(QKeySequence(Qt.Key.Key_F11))
        self.full_screen_action.triggered.connect(self.toggle_full_screen)
        self.addAction(self.full_screen_action)
        back = QAction(self)
        back.setShortcut(QKeySequence(QKeySequence.StandardKey.Back))
        back.triggered.connect(self.back)
        self.addAction(back)
        forward = QAction(self)
        forward.setShortcut(QKeySequence(QKeySequence.StandardKey.Forward))
        forward.triggered.connect(self.forward)
        self.addAction(forward)

    def _overview_key(self) -> str:
        return f"screen:{next(iter(self.screen_defs))}" if self.screen_defs else "tags"

    def title_of(self, key: str) -> str:
        """The title of a page in the current language."""
        if key.startswith("screen:"):
            screen = self.screen_defs.get(key.removeprefix("screen:"))
            return screen.title.get(i18n.current()) if screen else key
        return tr(SECTION_TITLES.get(key, key))

    def page(self, key: str) -> QWidget:
        """The page for `key` ("screen:NAME" or a section), built on first use."""
        found = self.pages.get(key)
        if found is None:
            found = self._build(key)
            self.pages[key] = found
            self.stack.addWidget(found)
        return found

    def _build(self, key: str) -> QWidget:
        context = self.context
        if key.startswith("screen:"):
            name = key.removeprefix("screen:")
            if name not in self.screen_defs:
                raise KeyError(f"no screen named {name!r}")
            view = DiagramView(context, self.screen_defs[name], self)
            view.symbol_activated.connect(self.open_faceplate)
            view.open_screen.connect(lambda n: self.show_page(f"screen:{n}"))
            return view
        builders: dict[str, Callable[[], QWidget]] = {
            "trends": lambda: _trend_view(context, self),
            "alarms": lambda: AlarmPanel(context, self),
            "reports": lambda: ReportsScreen(context, self),
            "diagnostics": lambda: DiagnosticsScreen(context, self),
            "tags": lambda: TagBrowser(self.client.tag_defs(), self),
            "admin": lambda: AdminScreen(context, self),
        }
        if key not in builders:
            raise KeyError(f"no page {key!r}")
        return builders[key]()

    def show_page(self, key: str, *, remember: bool = True) -> None:
        """Show the page `key` in the main window (back/forward remember the way)."""
        if key == self.current:
            return
        page = self.page(key)
        if remember and self.current:
            self._back.append(self.current)
            self._forward.clear()
        self.current = key
        self.stack.setCurrentWidget(page)
        _deliver(page, "apply", self.latest)
        self._mark_navigation()
        self.retranslate()

    def back(self) -> None:
        """Go back to the previous page."""
        if self._back:
            self._forward.append(self.current)
            self.show_page(self._back.pop(), remember=False)

    def forward(self) -> None:
        """Go forward again after going back."""
        if self._forward:
            self._back.append(self.current)
            self.show_page(self._forward.pop(), remember=False)

    def _mark_navigation(self) -> None:
        key = self.current
        for name, button in self.buttons.items():
            if button.isCheckable():
                button.setChecked(
                    name == key
                    or (name == "overview" and key == self._overview_key())
                    or (
                        name == "stations"
                        and key.startswith("screen:")
                        and key != self._overview_key()
                    )
                )
        self.buttons["back"].setEnabled(bool(self._back))
        self.buttons["forward"].setEnabled(bool(self._forward))

    def _open_current_in_window(self) -> None:
        self.open_in_window()

    def open_in_window(self, key: str = "") -> ScreenWindow:
        """Open a page (default: the current one) in a window of its own, on another monitor
        when there is one."""
        key = key or self.current
        existing = self.windows.get(key)
        if existing is not None:
            existing.raise_()
            existing.activateWindow()
            return existing
        page = self._build(key)
        banner = AlarmBanner(self.context, None, horn=self.horn)  # one horn for the seat
        banner.open_alarms.connect(self._show_alarms_here)
        banner.apply_alarms(self.client.active_alarms())
        window = ScreenWindow(key, page, lambda: self.title_of(key), banner)
        self.windows[key] = window
        window.destroyed.connect(lambda: self.windows.pop(key, None))
        _deliver(page, "apply", self.latest)
        _deliver(page, "apply_alarms", self.client.active_alarms())
        screens = QGuiApplication.screens()
        here = self.screen()
        others = [s for s in screens if s is not here]
        area = (others[0] if others else here).availableGeometry()
        window.resize(min(1280, area.width()), min(800, area.height()))
        window.move(area.topLeft())
        window.show()
        return window

    def _show_alarms_here(self) -> None:
        self.show_page("alarms")
        self.raise_()
        self.activateWindow()

    def toggle_full_screen(self) -> None:
        """Full screen on and off (F11)."""
        if self.isFullScreen():
            self.showNormal()
        else:
            self.showFullScreen()

    # --- faceplates ---------------------------------------------------------------------------

    def open_faceplate(self, symbol: SymbolDef) -> Faceplate:
        """Open (or raise) the faceplate of a plant symbol."""
        found = self.faceplates.get(symbol.id)
        if found is not None:
            found.raise_()
            found.activateWindow()
            return found
        from screens.faceplate import Faceplate

        plate = Faceplate(self.context, symbol, self)
        plate.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.faceplates[symbol.id] = plate
        plate.destroyed.connect(lambda: self.faceplates.pop(symbol.id, None))
        plate.show()
        return plate

    # --- live data ----------------------------------------------------------------------------

    def _on_views(self) -> list[QWidget]:
        """Everything on view: the current page, pages in own windows, open faceplates."""
        out: list[QWidget] = []
        current = self.pages.get(self.current)
        if current is not None and not self.isMinimized():
            out.append(current)
        out.extend(w.page for w in self.windows.values() if not w.isMinimized())
        out.extend(self.faceplates.values())
        return out

    def _on_changes(self, changes: dict[str, Value]) -> None:
        self.latest.update(changes)
        for view in self._on_views():
            _deliver(view, "apply", changes)

    def _on_alarms(self, views: list[AlarmView]) -> None:
        self.banner.apply_alarms(views)  # and its horn
        for window in self.windows.values():
            window.banner.apply_alarms(views)
        targets = [*self.pages.values(), *(w.page for w in self.windows.values())]
        for target in [*targets, *self.faceplates.values()]:
            _deliver(target, "apply_alarms", views)

    def _show_links(self) -> None:
        stats = self.client.link_stats()
        online = [name for name, s in stats.items() if s.online]
        offline = sorted(set(stats) - set(online))
        text = tr("Devices online {n}/{total}").format(n=len(online), total=len(stats))
        if offline:
            text += " · " + tr("offline: {names}").format(names=", ".join(offline))
        if self.links.text() != text:
            self.links.setText(text)

    # --- people -------------------------------------------------------------------------------

    def log_in(self) -> None:
        """Ask for a user name and password (or the first administrator on a new system)."""

        def asked(first: bool) -> None:
            if first:
                created = FirstStartDialog(self.client, self)
                created.created.connect(self.context.set_session)
                created.open()
            else:
                login = LoginDialog(self.client, self)
                login.logged_in.connect(self.context.set_session)
                login.open()

        self.context.call(self.client.first_start(), asked, self._failed, guard=self)

    def log_out(self) -> None:
        """End the session of the person at this seat."""
        session = self.context.session
        if session is not None:
            self.context.call(self.client.logout(session), lambda _: None, self._failed, self)
        self.context.set_session(None)

    def lock(self) -> None:
        """Lock the seat: values stay on view, every action needs the password again."""
        session = self.context.session
        if session is None:
            return
        self.context.call(
            self.client.lock(session), lambda _: self._show_lock(), self._failed, self
        )

    def _check_idle(self) -> None:
        session = self.context.session
        if session is not None and session.locked and self._lock_dialog is None:
            self._show_lock()

    def _show_lock(self) -> None:
        session = self.context.session
        if session is None or self._lock_dialog is not None:
            return
        dialog = LockDialog(self.client, session, self)
        self._lock_dialog = dialog

        def done(new: Session | None) -> None:
            self._lock_dialog = None
            if new is not None and new is not session:
                self.context.set_session(new)
            else:
                self.context.session_changed.emit(self.context.session)

        dialog.unlocked.connect(done)
        dialog.switched.connect(done)
        dialog.finished.connect(lambda _result: setattr(self, "_lock_dialog", None))
        dialog.open()

    def _session_changed(self, session: Session | None) -> None:
        self.header.set_session(session)

    def _failed(self, error: BaseException) -> None:
        self.statusBar().showMessage(str(error), 10_000)

    # --- language, theme, settings ------------------------------------------------------------

    def set_language(self, code: str) -> None:
        """Switch every screen to `code` ("en" or "zh_CN")."""
        i18n.set_language(code)
        self.header.set_language(code)

    def set_theme(self, variant: str) -> None:
        """Switch to the day or the night colours."""
        app = QApplication.instance()
        if isinstance(app, QApplication):
            theme.apply_theme(app, variant)

    def retranslate(self, _code: str = "") -> None:
        """Re-set every text of the shell in the current language."""
        texts = {
            "back": tr("Back"),
            "forward": tr("Forward"),
            "overview": tr("Overview"),
            "stations": tr("Stations"),
            "new_window": tr("New window"),
            "full_screen": tr("Full screen"),
        }
        texts |= {s: tr(SECTION_TITLES[s]) for s in SECTIONS}
        for name, text in texts.items():
            self.buttons[name].setText(text)
        self.buttons["new_window"].setToolTip(tr("Open this screen in a window of its own"))
        self.buttons["full_screen"].setToolTip(tr("Full screen on and off (F11)"))
        self.stations_menu.clear()
        for name in list(self.screen_defs)[1:]:
            action = self.stations_menu.addAction(self.title_of(f"screen:{name}"))
            action.triggered.connect(lambda _=False, n=name: self.show_page(f"screen:{n}"))
        title = self.title_of(self.current) if self.current else ""
        self.setWindowTitle(f"Conduit HMI — {self.client.project_name} — {title}")
        self._show_links()

    def start(self) -> None:
        """Restore the last layout, then begin pulling live values."""
        self.restore()
        self.refresher.start()
        self._links_timer.start()
        self._idle_timer.start()
        self._show_links()

    def station_started(self) -> None:
        """The station runs: on a system without users, ask for the first administrator."""
        self.statusBar().showMessage(tr("Station started"), 5000)

        def asked(first: bool) -> None:
            if first and self.context.session is None:
                self.log_in()

        self.context.call(self.client.first_start(), asked, self._failed, guard=self)

    def restore(self) -> None:
        """Geometry, last page, language, theme and own windows from the settings."""
        s = self.settings
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        language = str(s.value("language", i18n.current()))
        if language in i18n.LANGUAGES:
            self.set_language(language)
        variant = str(s.value("theme", theme.current_variant()))
        if variant in theme.VARIANTS:
            self.set_theme(variant)
        last = str(s.value("page", "") or self._overview_key())
        try:
            self.show_page(last, remember=False)
        except KeyError:
            self.show_page(self._overview_key(), remember=False)
        for key in _as_list(s.value("windows", [])):
            try:
                window = self.open_in_window(key)
            except KeyError:
                continue
            geometry = s.value(f"window_geometry/{key}")
            if isinstance(geometry, QByteArray) and not geometry.isEmpty():
                window.restoreGeometry(geometry)

    def save(self) -> None:
        """Write the layout to the settings."""
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("page", self.current)
        s.setValue("language", i18n.current())
        s.setValue("theme", theme.current_variant())
        s.setValue("windows", list(self.windows))
        for key, window in self.windows.items():
            s.setValue(f"window_geometry/{key}", window.saveGeometry())
        s.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Save the layout and close the screens' own windows with the main one."""
        self.save()
        self.refresher.stop()
        for window in list(self.windows.values()):
            window.close()
        for plate in list(self.faceplates.values()):
            plate.close()
        super().closeEvent(event)


def _trend_view(context: AppContext, parent: QWidget) -> QWidget:
    """The trends screen (pyqtgraph and openpyxl are loaded when it is first shown)."""
    from screens.trends import TrendView

    return TrendView(context, parent)


def _deliver(target: Any, method: str, payload: Any) -> None:
    handler = getattr(target, method, None)
    if handler is not None:
        handler(payload)


def _as_list(value: object) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return []

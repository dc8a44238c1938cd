"""The main window against the demo on its simulator: navigation with back and forward, updates
only for what is on view, screens in their own windows, the layout restored on restart, a
symbol click opening its faceplate, logging in from the header."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtWidgets import QApplication, QLineEdit, QPushButton
from pytestqt.qtbot import QtBot

from hmi.client import InProcessClient, connect
from hmi.security.permissions import parse_grants
from hmi.tags import Value
from screens import i18n, theme
from screens.diagram import DiagramView
from screens.dialogs.login import LoginDialog
from screens.shell import MainWindow, ScreenWindow
from tests.conftest import demo_copy

pytestmark = pytest.mark.slow

OPERATOR = ("li.wei", "Valve-Shift-A-77")


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InProcessClient]:
    monkeypatch.setenv("CONDUIT_HOME", str(tmp_path / "home"))
    client = connect(demo_copy(tmp_path), simulate=True)
    yield client
    client.close()


@pytest.fixture(autouse=True)
def english_by_day() -> Iterator[None]:
    """Each test starts and ends in English with the day colours (both are process-wide)."""
    i18n.set_language("en")
    yield
    i18n.set_language("en")
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    theme.apply_theme(app, "day")


def open_window(qtbot: QtBot, client: InProcessClient, ini: Path) -> MainWindow:
    window = MainWindow(client, settings=QSettings(str(ini), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.start()
    window.show()
    return window


def click(qtbot: QtBot, window: MainWindow, name: str) -> None:
    qtbot.mouseClick(window.buttons[name], Qt.MouseButton.LeftButton)


def test_navigation_back_forward_and_the_layout_restored_on_restart(
    qtbot: QtBot, demo: InProcessClient, tmp_path: Path
) -> None:
    ini = tmp_path / "ui.ini"
    window = open_window(qtbot, demo, ini)
    assert window.current == "screen:overview", "the first screen in navigation order"
    assert window.buttons["overview"].isChecked()
    click(qtbot, window, "alarms")
    assert window.current == "alarms" and window.buttons["alarms"].isChecked()
    stations = {a.text(): a for a in window.stations_menu.actions()}
    assert list(stations)[:2] == ["Substation 1", "Substation 2"]
    stations["Substation 1"].trigger()
    assert window.current == "screen:ss1" and window.buttons["stations"].isChecked()
    click(qtbot, window, "back")
    assert window.current == "alarms"
    click(qtbot, window, "forward")
    assert window.current == "screen:ss1"
    assert not window.buttons["forward"].isEnabled()
    window.header.language.setCurrentIndex(window.header.language.findData("zh_CN"))
    assert i18n.current() == "zh_CN" and window.buttons["alarms"].text() == "报警"
    qtbot.mouseClick(window.header.night, Qt.MouseButton.LeftButton)
    assert theme.current_variant() == "night"
    window.resize(780, 500)  # within the offscreen screen (800 x 600)
    size = (window.width(), window.height())
    assert size[1] == 500
    window.close()

    i18n.set_language("en")
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    theme.apply_theme(app, "day")
    again = open_window(qtbot, demo, ini)
    assert again.current == "screen:ss1", "the last screen is shown again"
    assert i18n.current() == "zh_CN" and theme.current_variant() == "night"
    assert again.header.night.isChecked() and again.buttons["overview"].text() == "总览"
    assert again.height() == size[1], "the geometry is restored (the width is held by the content)"
    again.close()


def test_only_what_is_on_view_gets_changes_and_a_shown_screen_catches_up(
    qtbot: QtBot, demo: InProcessClient, tmp_path: Path
) -> None:
    window = open_window(qtbot, demo, tmp_path / "ui.ini")
    overview = window.page("screen:overview")
    hidden = window.page("screen:ss2")
    assert isinstance(overview, DiagramView) and isinstance(hidden, DiagramView)
    calls: dict[str, int] = {"overview": 0, "ss2": 0}

    def counting(name: str, view: DiagramView) -> None:
        original = view.apply

        def apply(changes: dict[str, Value]) -> None:
            calls[name] += 1
            original(changes)

        view.apply = apply  # type: ignore[method-assign]

    counting("overview", overview)
    counting("ss2", hidden)
    ticks = window.refresher.ticks
    qtbot.waitUntil(lambda: window.refresher.ticks >= ticks + 5, timeout=5000)
    assert calls["overview"] >= 1 and calls["ss2"] == 0, calls

    def ss2_good() -> bool:
        value = window.latest.get("SS2.TT301")
        return value is not None and value.good

    qtbot.waitUntil(ss2_good, timeout=15000)
    window.show_page("screen:ss2")
    assert calls["ss2"] == 1, "caught up from the latest values at once"
    shown = hidden.readouts("SS2.TT301")[0].shown
    assert shown.endswith("°C") and shown[0].isdigit(), shown
    window.close()


def test_a_screen_in_its_own_window_stays_live_and_comes_back_on_restart(
    qtbot: QtBot, demo: InProcessClient, tmp_path: Path
) -> None:
    ini = tmp_path / "ui.ini"
    window = open_window(qtbot, demo, ini)
    window.show_page("screen:gasgate")
    click(qtbot, window, "new_window")
    own = window.windows["screen:gasgate"]
    assert isinstance(own, ScreenWindow) and own.isVisible()
    assert own.page is not window.page("screen:gasgate"), "a view of its own"
    window.show_page("alarms")  # the main window looks elsewhere; the own window stays live
    page = own.page
    assert isinstance(page, DiagramView)
    qtbot.waitUntil(lambda: page.readouts("GS1.PT101")[0].shown.endswith("MPa"), timeout=20000)
    assert own.windowTitle() == "Conduit HMI — Gas gate station"
    window.close()
    qtbot.waitUntil(lambda: not window.windows, timeout=3000)  # closed with the main window
    again = open_window(qtbot, demo, ini)
    assert list(again.windows) == ["screen:gasgate"]
    again.close()


def test_clicking_a_valve_on_the_overview_opens_its_faceplate_and_logging_in_enables_it(
    qtbot: QtBot, demo: InProcessClient, tmp_path: Path
) -> None:
    users = demo.station.users
    assert users is not None
    users.add_user("admin", "Plant-Boss-2026!x", parse_grants("administrator"), by="test")
    users.add_user(*OPERATOR, parse_grants("operator:SS1"), by="test")
    window = open_window(qtbot, demo, tmp_path / "ui.ini")
    view = window.page("screen:overview")
    assert isinstance(view, DiagramView)
    view.resize(1600, 900)
    view.fit()
    item = view.symbol("SS1.TV301")
    where: QPoint = view.mapFromScene(item.sceneBoundingRect().center())
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=where)
    qtbot.waitUntil(lambda: "SS1.TV301" in window.faceplates, timeout=3000)
    plate = window.faceplates["SS1.TV301"]
    buttons = [b for b in plate.findChildren(QPushButton) if b.objectName().startswith("command")]
    assert buttons and not any(b.isEnabled() for b in buttons), "nobody logged in: no commands"

    qtbot.mouseClick(window.header.login, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.findChild(LoginDialog) is not None, timeout=5000)
    dialog = window.findChild(LoginDialog)
    assert dialog is not None
    fields = dialog.findChildren(QLineEdit)
    name = next(f for f in fields if f.echoMode() == QLineEdit.EchoMode.Normal)
    password = next(f for f in fields if f.echoMode() == QLineEdit.EchoMode.Password)
    qtbot.keyClicks(name, OPERATOR[0])
    qtbot.keyClicks(password, OPERATOR[1])
    qtbot.keyClick(password, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.context.session is not None, timeout=10000)
    assert window.header.user.text().startswith("li.wei · operator (SS1)")
    assert window.header.login.text() == "Log out"
    qtbot.waitUntil(lambda: any(b.isEnabled() for b in buttons), timeout=3000)
    session = window.context.session
    assert session is not None
    session.last_active -= 60  # a minute without a key or a click
    before = session.last_active
    click(qtbot, window, "trends")  # any click in the application postpones the idle lock
    assert session.last_active >= before + 59
    window.close()

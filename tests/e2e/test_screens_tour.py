"""A walk through every main screen of the demo in English and in Chinese: a screenshot of each
in build/screenshots/, and in zh_CN no visible text left in English (nor any looked up without
a translation)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from drivers.sim.faults import Offline  # the test injects a field failure
from hmi.client import InProcessClient, connect
from hmi.security.permissions import parse_grants
from screens import i18n, theme
from screens.app import cjk_font
from screens.shell import SECTIONS, MainWindow
from tests.conftest import demo_copy
from tests.screens.ui_text import readable_texts, untranslated

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "build" / "screenshots"
ADMIN = ("admin", "Plant-Boss-2026!x")


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InProcessClient]:
    monkeypatch.setenv("CONDUIT_HOME", str(tmp_path / "home"))
    project = demo_copy(tmp_path)
    devices = project / "devices.toml"  # substation 4 is reported offline after 2 s, not 30
    devices.write_text(
        devices.read_text(encoding="utf-8").replace(
            'simulate = "heating/SS4"\n',
            'simulate = "heating/SS4"\nalarms = { offline_after = "2s" }\n',
        ),
        encoding="utf-8",
    )
    client = connect(project, simulate=True)
    users = client.station.users
    assert users is not None
    users.add_user(*ADMIN, parse_grants("administrator"), by="test")
    yield client
    client.close()


def project_texts(client: InProcessClient) -> set[str]:
    """What the project itself says (shown as written, not translated by the application)."""
    out = {client.project_name, ADMIN[0]}
    for name, tag in client.tag_defs().items():
        out.update((name, tag.description, tag.unit))
    out.update(client.link_stats())
    return out


def settle(qtbot: QtBot, window: MainWindow, ticks: int = 3) -> None:
    start = window.refresher.ticks
    qtbot.waitUntil(lambda: window.refresher.ticks >= start + ticks, timeout=5000)


def shoot(widget: QWidget, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert widget.grab().save(str(SCREENSHOTS / f"{name}.png")), name


def test_every_screen_in_both_languages_with_screenshots_and_nothing_untranslated(
    qtbot: QtBot, demo: InProcessClient, tmp_path: Path
) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    assert cjk_font() is not None, "a CJK font must be installed (CI installs one)"
    theme.apply_theme(app, "day")
    i18n.set_language("en")
    i18n.clear_missing()
    settings = QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)
    window = MainWindow(demo, settings=settings, refresh_ms=100)
    qtbot.addWidget(window)
    window.resize(1600, 1000)
    window.start()
    window.show()
    window.context.set_session(demo.login(*ADMIN).result(10))
    qtbot.waitUntil(lambda: demo.link_stats()["PLC_HS1"].online, timeout=20000)
    # a field fault, so the screens show an alarm, bad values and an offline device
    simulation = demo.station.simulation
    assert simulation is not None and simulation.heating is not None
    simulation.call(simulation.heating.plant.faults.add, Offline("SS4"))
    offline = "_diag.PLC_SS4.online.offline"
    qtbot.waitUntil(lambda: offline in {v.id for v in demo.active_alarms()}, timeout=30000)
    settle(qtbot, window)
    assert window.banner.unacknowledged(), "the alarm is in the banner"
    own = window.open_in_window("screen:gasgate")  # a second monitor has the banner too
    qtbot.waitUntil(lambda: offline in {v.id for v in own.banner.unacknowledged()}, timeout=5000)
    own.resize(1280, 800)
    settle(qtbot, window)
    shoot(own, "own_window_gasgate_en")
    own.close()
    keys = [f"screen:{name}" for name in demo.screens()] + list(SECTIONS)
    data = project_texts(demo)
    found: dict[str, list[tuple[str, str]]] = {}
    try:
        for language in ("en", "zh_CN"):
            window.set_language(language)
            for key in keys:
                window.show_page(key)
                settle(qtbot, window)
                shoot(window, f"{key.replace('screen:', '')}_{language}")
                if language == "zh_CN":
                    bad = untranslated(readable_texts(window), data)
                    if bad:
                        found[key] = bad
            window.show_page("screen:ss1")
            view = window.page("screen:ss1")
            symbol = next(s for s in demo.screens()["ss1"].symbols if s.id == "SS1.TV301")
            view.symbol_activated.emit(symbol)  # type: ignore[attr-defined]
            plate = window.faceplates["SS1.TV301"]
            settle(qtbot, window)
            shoot(plate, f"faceplate_{language}")
            if language == "zh_CN":
                bad = untranslated(readable_texts(plate), data)
                if bad:
                    found["faceplate"] = bad
            plate.close()
        theme.apply_theme(app, "night")
        window.set_language("en")
        window.show_page("screen:overview")
        settle(qtbot, window)
        shoot(window, "overview_night_en")
    finally:
        i18n.set_language("en")
        theme.apply_theme(app, "day")
        window.close()
    assert not found, found
    assert i18n.missing() == set(), sorted(i18n.missing())
    for key in keys:
        for language in ("en", "zh_CN"):
            assert (SCREENSHOTS / f"{key.replace('screen:', '')}_{language}.png").stat().st_size

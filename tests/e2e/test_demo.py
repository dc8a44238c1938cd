"""The demo: simulator + runtime + window, live good values over real Modbus TCP; screenshots."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from hmi.client import InProcessClient, connect
from hmi.simulation import find_mosquitto
from hmi.tags import Quality
from screens.shell import MainWindow
from screens.tag_browser import COL_NAME, COL_QUALITY, COL_VALUE, TagBrowser
from screens.theme import apply_theme
from tests.conftest import demo_copy

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "build" / "screenshots"

pytestmark = pytest.mark.slow


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[InProcessClient]:
    client = connect(demo_copy(tmp_path), simulate=True)
    yield client
    client.close()


def tag_window(qtbot: QtBot, client: InProcessClient, tmp_path: Path) -> MainWindow:
    """The main window on its tag browser page (layout kept in a file of the test's own)."""
    settings = QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)
    window = MainWindow(client, settings=settings)
    qtbot.addWidget(window)
    window.show()
    window.start()
    window.show_page("tags")
    return window


def browser_of(window: MainWindow) -> TagBrowser:
    page = window.page("tags")
    assert isinstance(page, TagBrowser)
    return page


def test_demo_window_shows_live_good_values_from_the_simulator(
    qtbot: QtBot, demo: InProcessClient, tmp_path: Path
) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    apply_theme(app)
    window = tag_window(qtbot, demo, tmp_path)
    browser = browser_of(window)
    model = browser.model
    # the MQTT part of the demo runs where a mosquitto broker is installed (CI installs it)
    broker = find_mosquitto() is not None
    live = [
        t.name
        for t in demo.tag_defs().values()
        if t.address is not None and (broker or t.address.scheme not in ("mqtt", "spb"))
    ]
    assert len(live) >= 150

    def all_good() -> bool:
        return all(model.value(name).quality is Quality.GOOD for name in live)

    qtbot.waitUntil(all_good, timeout=15000)
    rows = {browser.proxy.index(r, COL_NAME).data(): r for r in range(browser.proxy.rowCount())}
    supply = float(browser.proxy.index(rows["HS1.TT101"], COL_VALUE).data())
    ret = float(browser.proxy.index(rows["HS1.TT102"], COL_VALUE).data())
    assert 60.0 < supply < 130.0, "heat source supply temperature is plausible"
    assert ret < supply, "return is cooler than supply"
    assert browser.proxy.index(rows["HS1.TT101"], COL_QUALITY).data() == "good"
    online = "Devices online 7/7" if broker else "Devices online 6/7"
    qtbot.waitUntil(lambda: window.links.text().startswith(online), timeout=5000)

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    window.resize(1280, 760)
    assert window.grab().save(str(SCREENSHOTS / "tag_browser.png"))
    qtbot.keyClicks(browser.filter, "SS2.")
    names = [browser.proxy.index(r, COL_NAME).data() for r in range(browser.proxy.rowCount())]
    assert names, "the filter keeps the SS2 tags"
    defs = demo.tag_defs()
    assert all(
        n.startswith("SS2.") or n.startswith("_diag.PLC_SS2") or "SS2." in defs[n].description
        for n in names
    ), names
    assert window.grab().save(str(SCREENSHOTS / "tag_browser_filtered.png"))
    window.refresher.stop()


def test_an_offline_substation_shows_bad_values_and_comes_back(
    qtbot: QtBot, demo: InProcessClient, tmp_path: Path
) -> None:
    from drivers.sim.faults import Offline  # the test injects the fault like a field failure

    window = tag_window(qtbot, demo, tmp_path)
    browser = browser_of(window)
    model = browser.model
    qtbot.waitUntil(lambda: model.value("SS4.TT201").quality is Quality.GOOD, timeout=15000)
    simulation = demo.station.simulation
    assert simulation is not None and simulation.heating is not None
    plant = simulation.heating.plant
    fault = Offline("SS4")
    simulation.call(plant.faults.add, fault)
    qtbot.waitUntil(lambda: model.value("SS4.TT201").quality is Quality.BAD, timeout=8000)
    assert model.value("SS4.TT201").value is None
    assert model.value("SS1.TT201").quality is Quality.GOOD, "other substations unaffected"
    qtbot.waitUntil(lambda: "offline: PLC_SS4" in window.links.text(), timeout=5000)
    qtbot.keyClicks(browser.filter, "SS4.")
    assert browser.proxy.index(0, COL_VALUE).data() == "BAD"
    assert window.grab().save(str(SCREENSHOTS / "tag_browser_offline.png"))
    simulation.call(plant.faults.remove, fault)
    qtbot.waitUntil(lambda: model.value("SS4.TT201").quality is Quality.GOOD, timeout=15000)
    window.refresher.stop()


def test_the_application_entry_point_starts_and_quits(tmp_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "screens",
            str(demo_copy(tmp_path)),
            "--simulate",
            "--settings",
            str(tmp_path / "ui.ini"),  # the window layout of this run, not the user's
            "--exit-after",
            "3",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "station Demo district heating started" in proc.stderr


def test_without_a_display_the_application_says_so(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)
    proc = subprocess.run(
        [sys.executable, "-m", "screens", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert "no display found" in proc.stderr
    assert "QT_QPA_PLATFORM=offscreen" in proc.stderr

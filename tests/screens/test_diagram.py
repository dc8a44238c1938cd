"""Plant diagrams: values with units, BAD never a number, symbol states, flow arrows, alarm
borders, clicks, zoom, the demo screens, zh_CN, and live values from the simulator."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QWheelEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from hmi.client import AlarmKind, AlarmState, AlarmView, Priority
from hmi.project import load_project
from hmi.resources import demo_project
from hmi.screen_config import Caption, Link, Pipe, Readout, ScreenDef, SymbolDef, Text
from hmi.tags import DataType, Quality, TagDef, Value
from screens import i18n, theme
from screens.context import AppContext
from screens.diagram import DiagramView, grid_screen
from screens.refresh import Refresher
from screens.widgets.symbols import SymbolState
from tests.screens.store_client import StoreClient

TAGS = {
    t.name: t
    for t in (
        TagDef("SS1.TT301", description="Secondary supply temperature", unit="°C", decimals=1),
        TagDef("SS1.ZT301", description="Control valve position", unit="%", decimals=1),
        TagDef("SS1.ZA301", description="Control valve fault", type=DataType.BOOL),
        TagDef("SS1.ZC301", unit="%", decimals=1, writable=True),
        TagDef("SS1.YS301", description="Secondary pump running", type=DataType.BOOL),
        TagDef("SS1.ST301", description="Secondary pump speed", unit="%", decimals=1),
        TagDef("SS1.FT201", description="Primary flow", unit="kg/s", decimals=2),
    )
}
VALVE = SymbolDef(
    id="SS1.TV301",
    symbol="control_valve",
    at=(100.0, 100.0),
    size=(48.0, 48.0),
    label=Text("Control valve", "调节阀"),
    state="SS1.ZT301",
    fault="SS1.ZA301",
    values=("SS1.ZT301",),
    commands=("SS1.ZC301",),
    area="SS1",
)
PUMP = SymbolDef(
    id="SS1.P301",
    symbol="pump",
    at=(400.0, 100.0),
    label=Text("Secondary pump", "二次循环泵"),
    state="SS1.YS301",
    values=("SS1.ST301",),
    rotate=180,
)
SCREEN = ScreenDef(
    name="test",
    title=Text("Test", "测试"),
    size=(800.0, 500.0),
    symbols=(VALVE, PUMP),
    values=(Readout("SS1.TT301", (100.0, 300.0), Text("Supply", "供水")),),
    pipes=(Pipe(((0.0, 124.0), (100.0, 124.0), (100.0, 400.0)), "SS1.FT201", 0.5),),
    texts=(Caption(Text("Substation 1", "1号换热站"), (20.0, 10.0)),),
    links=(Link("ss1", (600.0, 400.0), Text("Detail", "详情")),),
)


class DiagramClient(StoreClient):
    """A RuntimeClient over a TagStore and a list of alarm changes the test adds."""

    def __init__(self, tags: Mapping[str, TagDef]) -> None:
        super().__init__(tags)
        self.alarm_log: list[AlarmView] = []

    def active_alarms(self) -> list[AlarmView]:
        latest = {a.id: a for a in self.alarm_log}
        return [a for a in latest.values() if a.state is not AlarmState.NORMAL]

    def alarm_changes_since(self, version: int) -> tuple[int, list[AlarmView]]:
        return len(self.alarm_log), self.alarm_log[version:]


def alarm(
    tag: str, priority: Priority, state: AlarmState, kind: AlarmKind = AlarmKind.HI
) -> AlarmView:
    return AlarmView(
        id=f"{tag}.{kind.value}",
        tag=tag,
        kind=kind,
        area="SS1",
        priority=priority,
        state=state,
        active=state in (AlarmState.UNACK, AlarmState.ACKED),
        acked=state is AlarmState.ACKED,
        message_en=f"{tag} high",
        message_zh=f"{tag} 高",
        value=None,
        limit=None,
        since=time.time(),
    )


@pytest.fixture
def client() -> DiagramClient:
    return DiagramClient(TAGS)


def make(
    qtbot: QtBot, client: DiagramClient, screen: ScreenDef = SCREEN, show: bool = True
) -> tuple[DiagramView, Refresher]:
    """A view subscribed to a fast refresher, as the shell wires it."""
    refresher = Refresher(client, interval_ms=100)
    context = AppContext(client, refresher)
    view = DiagramView(context, screen)
    qtbot.addWidget(view)
    refresher.setParent(view)
    context.setParent(view)
    refresher.subscribe(view.apply)
    refresher.subscribe_alarms(view.apply_alarms)
    refresher.start()
    view.resize(800, 500)
    if show:
        view.show()
        qtbot.waitExposed(view)
    return view, refresher


def shown(view: DiagramView, tag: str) -> str:
    return view.readouts(tag)[0].shown


def view_point(view: DiagramView, scene: QPointF) -> QPoint:
    return view.mapFromScene(scene)


def test_values_and_units_are_shown(qtbot: QtBot, client: DiagramClient) -> None:
    view, _ = make(qtbot, client)
    client.set("SS1.TT301", 72.345)
    client.set("SS1.ST301", 55.0)
    qtbot.waitUntil(lambda: shown(view, "SS1.TT301") == "72.3 °C", timeout=2000)
    qtbot.waitUntil(lambda: shown(view, "SS1.ST301") == "55.0 %", timeout=2000)
    item = view.readouts("SS1.TT301")[0]
    assert item.label == "Supply"
    assert "Secondary supply temperature" in item.toolTip()


def _colour_pixels(view: DiagramView, rect_scene: object, colour: QColor) -> int:
    image = view.viewport().grab().toImage()
    rect = view.mapFromScene(rect_scene).boundingRect()  # type: ignore[call-overload]
    count = 0
    for x in range(max(rect.left(), 0), min(rect.right(), image.width())):
        for y in range(max(rect.top(), 0), min(rect.bottom(), image.height())):
            if image.pixelColor(x, y) == colour:
                count += 1
    return count


def test_bad_quality_shows_bad_never_the_number(qtbot: QtBot, client: DiagramClient) -> None:
    view, _ = make(qtbot, client)
    client.set("SS1.TT301", 55.5)
    qtbot.waitUntil(lambda: shown(view, "SS1.TT301") == "55.5 °C", timeout=2000)
    item = view.readouts("SS1.TT301")[0]
    assert _colour_pixels(view, item.sceneBoundingRect(), theme.QUALITY_BAD_BG) == 0
    client.set("SS1.TT301", 55.5, Quality.BAD)  # a bad value that still carries a number
    qtbot.waitUntil(lambda: shown(view, "SS1.TT301") == "BAD", timeout=2000)
    assert "communication failure" in item.toolTip()
    assert _colour_pixels(view, item.sceneBoundingRect(), theme.QUALITY_BAD_BG) > 20
    client.set("SS1.TT301", 56.0, Quality.UNCERTAIN)
    qtbot.waitUntil(lambda: shown(view, "SS1.TT301") == "56.0 °C ?", timeout=2000)
    assert "stale" in item.toolTip()


def test_symbol_states_follow_state_fault_and_quality(qtbot: QtBot, client: DiagramClient) -> None:
    view, _ = make(qtbot, client)
    pump, valve = view.symbol("SS1.P301"), view.symbol("SS1.TV301")
    assert pump.state is SymbolState.BAD_QUALITY  # nothing received yet
    client.set("SS1.YS301", True)
    qtbot.waitUntil(lambda: pump.state is SymbolState.RUNNING, timeout=2000)
    client.set("SS1.YS301", False)
    qtbot.waitUntil(lambda: pump.state is SymbolState.STOPPED, timeout=2000)
    client.set("SS1.ZA301", False)
    client.set("SS1.ZT301", 40.0)
    qtbot.waitUntil(lambda: valve.state is SymbolState.OPEN, timeout=2000)
    assert shown(view, "SS1.ZT301") == "40.0 %"  # the position beside the valve
    client.set("SS1.ZT301", 0.5)
    qtbot.waitUntil(lambda: valve.state is SymbolState.CLOSED, timeout=2000)
    client.set("SS1.ZA301", True)
    qtbot.waitUntil(lambda: valve.state is SymbolState.FAULT, timeout=2000)
    client.set("SS1.ZA301", False)
    client.set("SS1.ZT301", 30.0, Quality.BAD)
    qtbot.waitUntil(lambda: valve.state is SymbolState.BAD_QUALITY, timeout=2000)


def test_pipe_arrows_only_while_flowing_pointing_with_the_sign(
    qtbot: QtBot, client: DiagramClient
) -> None:
    view, _ = make(qtbot, client)
    pipe = view.pipes[0]
    client.set("SS1.FT201", 0.2)  # below min_flow, delivered in the same batch as TT301
    client.set("SS1.TT301", 1.0)
    qtbot.waitUntil(lambda: shown(view, "SS1.TT301") == "1.0 °C", timeout=2000)
    assert pipe.direction == 0 and not pipe.arrows.isVisible()
    client.set("SS1.FT201", 3.0)
    qtbot.waitUntil(lambda: pipe.direction == 1, timeout=2000)
    assert pipe.arrows.isVisible()
    tip, corner = pipe.arrows.path().elementAt(0), pipe.arrows.path().elementAt(1)
    assert tip.x > corner.x  # along the points: the first leg runs to +x
    client.set("SS1.FT201", -3.0)
    qtbot.waitUntil(lambda: pipe.direction == -1, timeout=2000)
    tip, corner = pipe.arrows.path().elementAt(0), pipe.arrows.path().elementAt(1)
    assert tip.y < corner.y  # against them: the first arrow climbs the vertical leg
    client.set("SS1.FT201", 3.0, Quality.BAD)
    qtbot.waitUntil(lambda: pipe.direction == 0, timeout=2000)
    assert not pipe.arrows.isVisible()


def test_an_alarm_borders_the_symbol_in_its_priority(qtbot: QtBot, client: DiagramClient) -> None:
    view, _ = make(qtbot, client)
    valve, marker = view.symbol("SS1.TV301"), view.marker("SS1.TV301")
    assert valve.alarm is None and not marker.isVisible()
    client.alarm_log.append(alarm("SS1.ZT301", Priority.HIGH, AlarmState.UNACK))
    qtbot.waitUntil(lambda: valve.alarm == 2, timeout=2000)  # HIGH is theme level 2
    assert marker.isVisible() and marker.level == 2 and marker.unacked
    assert view.readouts("SS1.ZT301")[0].alarm == 2
    assert "SS1.ZT301 high" in marker.toolTip()
    assert view.symbol("SS1.P301").alarm is None
    client.alarm_log.append(alarm("SS1.ZT301", Priority.HIGH, AlarmState.ACKED))
    qtbot.waitUntil(lambda: not marker.unacked, timeout=2000)
    client.alarm_log.append(
        alarm("SS1.ZA301", Priority.URGENT, AlarmState.UNACK, AlarmKind.DIGITAL)
    )
    qtbot.waitUntil(lambda: valve.alarm == 1, timeout=2000)
    client.alarm_log.append(
        alarm("SS1.ZA301", Priority.URGENT, AlarmState.SHELVED, AlarmKind.DIGITAL)
    )
    qtbot.waitUntil(lambda: valve.alarm == 2, timeout=2000)  # shelved: back to the HIGH one
    client.alarm_log.append(alarm("SS1.ZT301", Priority.HIGH, AlarmState.NORMAL))
    qtbot.waitUntil(lambda: valve.alarm is None, timeout=2000)
    assert not marker.isVisible() and view.readouts("SS1.ZT301")[0].alarm is None


def test_clicking_a_symbol_emits_its_definition(qtbot: QtBot, client: DiagramClient) -> None:
    view, _ = make(qtbot, client)
    centre = view_point(view, view.symbol("SS1.P301").sceneBoundingRect().center())
    with qtbot.waitSignal(view.symbol_activated, timeout=1000) as signal:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert signal.args == [PUMP]
    emitted: list[object] = []
    view.symbol_activated.connect(emitted.append)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    assert emitted == []  # the background pans, it does not activate anything


def test_a_link_opens_its_screen(qtbot: QtBot, client: DiagramClient) -> None:
    view, _ = make(qtbot, client)
    link = view.links[0]
    assert link.text == "Detail"
    centre = view_point(view, link.sceneBoundingRect().center())
    with qtbot.waitSignal(view.open_screen, timeout=1000) as signal:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert signal.args == ["ss1"]


def test_hovering_a_symbol_shows_a_pointing_hand(qtbot: QtBot, client: DiagramClient) -> None:
    view, _ = make(qtbot, client)
    qtbot.mouseMove(view.viewport(), QPoint(3, 3))
    assert view.viewport().cursor().shape() != Qt.CursorShape.PointingHandCursor
    centre = view_point(view, view.symbol("SS1.TV301").sceneBoundingRect().center())
    qtbot.mouseMove(view.viewport(), centre)
    qtbot.waitUntil(
        lambda: view.viewport().cursor().shape() == Qt.CursorShape.PointingHandCursor,
        timeout=1000,
    )


def test_wheel_and_keys_zoom(qtbot: QtBot, client: DiagramClient) -> None:
    view, _ = make(qtbot, client)
    fitted = view.zoom
    qtbot.keyClick(view, Qt.Key.Key_Plus, Qt.KeyboardModifier.ControlModifier)
    assert view.zoom == pytest.approx(fitted * 1.25)
    qtbot.keyClick(view, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(view, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert view.zoom == pytest.approx(fitted / 1.25)
    qtbot.keyClick(view, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert view.zoom == pytest.approx(fitted)
    at = QPointF(200, 150)
    wheel = QWheelEvent(
        at,
        view.viewport().mapToGlobal(at),
        QPoint(0, 0),
        QPoint(0, 240),  # two notches away from the person: zoom in
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view.viewport(), wheel)
    assert view.zoom == pytest.approx(fitted * 1.25**2)


def test_values_that_arrive_while_hidden_show_when_shown(
    qtbot: QtBot, client: DiagramClient
) -> None:
    client.set("SS1.TT301", 60.0)
    view, refresher = make(qtbot, client, show=False)
    assert shown(view, "SS1.TT301") == "60.0 °C"  # what the client had when it was built
    client.set("SS1.TT301", 61.0)
    refresher.tick()
    assert shown(view, "SS1.TT301") == "60.0 °C"  # hidden: remembered, not drawn
    view.show()
    qtbot.waitExposed(view)
    assert shown(view, "SS1.TT301") == "61.0 °C"


@pytest.fixture
def demo_tags() -> dict[str, TagDef]:
    return load_project(demo_project()).tags


def test_the_demo_screens_build_and_bind_only_existing_tags(
    qtbot: QtBot, demo_tags: dict[str, TagDef]
) -> None:
    screens = load_project(demo_project()).screens
    client = DiagramClient(demo_tags)
    for name in ("overview", "ss1", "gasgate"):
        view, refresher = make(qtbot, client, screens[name])
        assert view.tags <= demo_tags.keys(), name
        assert screens[name].tags <= demo_tags.keys(), name
        assert {v.tag for v in screens[name].values} <= view.tags, name
        refresher.stop()
    overview, _ = make(qtbot, client, screens["overview"])
    assert len(overview.pipes) == len(screens["overview"].pipes)
    assert overview.links[0].text == "Substation 1 detail"


def test_retranslate_to_chinese_changes_every_text(qtbot: QtBot, client: DiagramClient) -> None:
    view, _ = make(qtbot, client)
    client.set("SS1.YS301", True)
    qtbot.waitUntil(lambda: view.symbol("SS1.P301").state is SymbolState.RUNNING, timeout=2000)
    assert view.symbol_label("SS1.TV301") == "Control valve"
    assert shown(view, "SS1.TT301") == "BAD"
    i18n.clear_missing()
    i18n.set_language("zh_CN")
    try:
        assert view.symbol_label("SS1.TV301") == "调节阀"
        assert view.symbol_label("SS1.P301") == "二次循环泵"
        assert view.captions == ["1号换热站"]
        assert view.links[0].text == "详情"
        assert view.readouts("SS1.TT301")[0].label == "供水"
        assert shown(view, "SS1.TT301") == "坏值"
        assert "尚未收到数据" in view.readouts("SS1.TT301")[0].toolTip()
        assert i18n.missing() == set()
    finally:
        i18n.set_language("en")
    assert view.symbol_label("SS1.TV301") == "Control valve"


def test_a_synthetic_grid_screen_binds_one_symbol_per_tag(
    qtbot: QtBot, demo_tags: dict[str, TagDef]
) -> None:
    names = [n for n, t in demo_tags.items() if t.type is DataType.FLOAT][:60]
    screen = grid_screen(names, columns=12)
    assert len(screen.symbols) == 60 and len(screen.pipes) == 5
    view, _ = make(qtbot, DiagramClient(demo_tags), screen)
    assert view.tags == set(names)
    view.apply({names[0]: Value(42.0, Quality.GOOD)})
    assert view.symbol("S0").state is SymbolState.OPEN


@pytest.mark.slow
def test_the_overview_shows_live_values_from_the_simulator(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hmi.client import connect
    from tests.conftest import demo_copy

    monkeypatch.setenv("CONDUIT_HOME", str(tmp_path / "home"))
    client = connect(demo_copy(tmp_path), simulate=True)
    try:
        screens = client.screens()
        assert list(screens) == ["overview", "ss1", "ss2", "ss3", "ss4", "gasgate"]
        refresher = Refresher(client, interval_ms=200)
        context = AppContext(client, refresher)
        view = DiagramView(context, screens["overview"])
        qtbot.addWidget(view)
        refresher.subscribe(view.apply)
        refresher.subscribe_alarms(view.apply_alarms)
        refresher.start()
        view.show()
        number = re.compile(r"^-?\d+\.\d °C$")
        qtbot.waitUntil(lambda: bool(number.match(shown(view, "HS1.TT101"))), timeout=20000)
        qtbot.waitUntil(lambda: view.symbol("HS1.P101").state is SymbolState.RUNNING, timeout=20000)
        refresher.stop()
    finally:
        client.close()

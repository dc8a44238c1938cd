"""Faceplates and the command dialog: values and quality, permissions, the trend, alarms, and a
whole valve command against the heating simulator (select -> password -> operate -> read back)."""

from __future__ import annotations

import ast
import concurrent.futures
import time
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton
from pytestqt.qtbot import QtBot

from hmi.client import (
    AlarmKind,
    AlarmState,
    AlarmView,
    CommandDef,
    CommandResult,
    InProcessClient,
    Priority,
    Session,
    Trend,
)
from hmi.command_config import Interlock
from hmi.commands.model import CommandRefused, Outcome
from hmi.screen_config import SymbolDef, Text
from hmi.security.permissions import parse_grants
from hmi.station import Station
from hmi.tags import DataType, Quality, Reason, TagDef, Value
from hmi.tagstore import TagStore
from screens import i18n, theme
from screens.context import AppContext
from screens.faceplate import CommandDialog, Faceplate, Step
from screens.faceplate.command_rows import BoolCommandRow, NumberCommandRow
from screens.faceplate.faceplate import PRIORITY_WORDS
from screens.faceplate.texts import bool_meaning, refusal_text, result_text, value_text
from screens.refresh import Refresher
from screens.theme import priority_colour
from tests.conftest import demo_copy, wait_until

ROOT = Path(__file__).resolve().parents[2]
VALVE = SymbolDef(
    id="SS1.TV301",
    symbol="control_valve",
    at=(0.0, 0.0),
    label=Text("Control valve", "调节阀"),
    state="SS1.ZT301",
    values=("SS1.ZT301", "SS1.TT301"),
    commands=("SS1.ZC301", "SS1.TIC301_AUTO"),
    trend=("SS1.ZT301",),
    area="SS1",
)
MANUAL_FIRST = Interlock(
    "SS1.TIC301_AUTO == 1",
    "Controller in AUTO: switch it to MANUAL first",
    "调节器处于自动：请先切换到手动",
)
TAGS = {
    t.name: t
    for t in (
        TagDef("SS1.ZT301", description="Control valve position", unit="%", decimals=1),
        TagDef("SS1.TT301", description="Secondary supply temperature", unit="°C", decimals=1),
        TagDef("SS1.ZC301", description="Valve command", unit="%", decimals=1, writable=True),
        TagDef("SS1.TIC301_AUTO", description="Auto", type=DataType.BOOL, writable=True),
    )
}
COMMANDS = {
    "SS1.ZC301": CommandDef(
        "SS1.ZC301", "SS1", 0.0, 100.0, 50.0, critical=True, readback="SS1.ZT301", band=2.0,
        interlocks=(MANUAL_FIRST,),
    ),
    "SS1.TIC301_AUTO": CommandDef("SS1.TIC301_AUTO", "SS1", readback="SS1.TIC301_AUTO"),
}  # fmt: skip


def good(value: Any, ts: float | None = None) -> Value:
    now = ts or time.time()
    return Value(value, Quality.GOOD, Reason.NONE, now, now)


class Person:
    """A principal holding some permissions in some areas (what a Session answers)."""

    def __init__(self, name: str, permissions: set[tuple[str, str]]) -> None:
        self.name = self.user = name
        self.permissions = permissions

    def may(self, permission: str, area: str) -> bool:
        return (permission, area) in self.permissions

    def touch(self) -> None:
        pass

    @property
    def session(self) -> Session:
        """This person where a Session is expected."""
        return cast(Session, self)


def done(value: Any = None, error: BaseException | None = None) -> concurrent.futures.Future[Any]:
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
    return future


class FakeClient:
    """The doors a faceplate uses, over a bare TagStore; commands answered as told."""

    project_name = "test"

    def __init__(self) -> None:
        self.store = TagStore(TAGS)
        self.alarms: list[AlarmView] = []
        self.trend: dict[str, Trend] = {}
        self.select_error: BaseException | None = None
        self.calls: list[tuple[str, Any]] = []

    def tag_defs(self) -> Mapping[str, TagDef]:
        return TAGS

    def command_defs(self) -> Mapping[str, CommandDef]:
        return COMMANDS

    def snapshot(self) -> tuple[int, dict[str, Value]]:
        return self.store.snapshot()

    def changes_since(self, version: int) -> tuple[int, dict[str, Value]]:
        return self.store.changes_since(version)

    def active_alarms(self) -> list[AlarmView]:
        return list(self.alarms)

    def alarm_changes_since(self, version: int) -> tuple[int, list[AlarmView]]:
        return version, []

    def history_trend(
        self, tags: Any, start: float, end: float, buckets: int
    ) -> concurrent.futures.Future[dict[str, Trend]]:
        self.calls.append(("history_trend", (tuple(tags), end - start, buckets)))
        return done(self.trend)

    def select(self, who: Any, tag: str, target: Any) -> concurrent.futures.Future[Any]:
        self.calls.append(("select", (who.name, tag, target)))
        return done(error=self.select_error)

    def cancel(self, who: Any, selection_id: str) -> concurrent.futures.Future[None]:
        self.calls.append(("cancel", selection_id))
        return done()


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    i18n.set_language("en")
    yield
    i18n.set_language("en")


def open_faceplate(
    qtbot: QtBot, client: Any, person: Any = None
) -> tuple[Faceplate, AppContext, Refresher]:
    refresher = Refresher(client, interval_ms=100)
    context = AppContext(client, refresher)
    context.set_session(person)  # a Person answers what a Session does
    faceplate = Faceplate(context, VALVE)
    qtbot.addWidget(faceplate)
    refresher.setParent(faceplate)
    refresher.subscribe(faceplate.apply)
    refresher.subscribe_alarms(faceplate.apply_alarms)
    faceplate.show()
    return faceplate, context, refresher


def alarm(tag: str, priority: Priority, state: AlarmState) -> AlarmView:
    return AlarmView(
        id=f"{tag}.hi", tag=tag, kind=AlarmKind.HI, area="SS1", priority=priority, state=state,
        active=True, acked=state is AlarmState.ACKED, message_en="Supply temperature high",
        message_zh="二次供水温度过高", value=80.0, limit=75.0, since=time.time(),
    )  # fmt: skip


# ---- texts -------------------------------------------------------------------------------------


def test_bool_commands_say_what_they_do() -> None:
    pump = SymbolDef("P", "pump", (0.0, 0.0))
    assert bool_meaning("SS1.HS301") == ("Start", "Stop")
    assert bool_meaning("HS1.HS101") == ("Start", "Stop")
    assert bool_meaning("SS1.RUN", pump) == ("Start", "Stop")
    assert bool_meaning("SS1.TIC301_AUTO") == ("Auto", "Manual")
    assert bool_meaning("HS1.TIC101_WC") == (
        "Weather compensation on",
        "Weather compensation off",
    )
    assert bool_meaning("GS1.XV501_CMD") == ("Open", "Close")
    assert bool_meaning("SS1.HEATER") == ("On", "Off")


def test_bad_quality_is_never_a_number() -> None:
    tag = TAGS["SS1.TT301"]
    last = Value(71.234, Quality.BAD, Reason.STALE, 1.0, 1.0)  # a value the link kept
    assert value_text(tag, last) == ("BAD", True)
    assert value_text(tag, Value.initial()) == ("BAD", True)
    assert value_text(tag, Value(71.234, Quality.UNCERTAIN, Reason.STALE, 1.0, 1.0)) == (
        "71.2",
        False,
    )


def test_refusals_are_said_in_the_current_language() -> None:
    command = COMMANDS["SS1.ZC301"]
    interlock = CommandRefused("Controller in AUTO: switch it to MANUAL first")
    assert refusal_text(interlock, command) == (
        "Interlock: Controller in AUTO: switch it to MANUAL first"
    )
    viewer = CommandRefused("guest may not operate in area 'SS1'")
    assert refusal_text(viewer) == "guest may not operate in area SS1"
    i18n.set_language("zh_CN")
    assert refusal_text(interlock, command) == "联锁：调节器处于自动：请先切换到手动"
    assert refusal_text(viewer) == "guest 无权在区域 SS1 操作"
    assert refusal_text(CommandRefused("wrong password")) == "密码错误：操作未确认"
    assert refusal_text(CommandRefused("120 is above the maximum 100")) == "120 高于上限 100"


def test_a_result_names_target_and_read_back() -> None:
    result = CommandResult(
        "id", "SS1.ZC301", "li", 50.0, 35.0, Outcome.VERIFIED, 35.1, "ok", 1.0, 2.0
    )
    command = COMMANDS["SS1.ZC301"]
    assert result_text(result, TAGS, command, VALVE) == "Verified: 35.0 % (read back 35.1 %)"
    manual = CommandResult(
        "id", "SS1.TIC301_AUTO", "li", True, False, Outcome.VERIFIED, False, "", 1.0, 2.0
    )
    auto_def = COMMANDS["SS1.TIC301_AUTO"]
    assert result_text(manual, TAGS, auto_def, VALVE) == "Verified: Manual (read back Manual)"


def test_every_text_has_a_chinese_translation() -> None:
    """Each literal tr() text and each text handed to tr() indirectly is in the catalogues."""
    catalogue: dict[str, str] = {}
    for path in (ROOT / "resources" / "i18n" / "zh_CN").glob("*.toml"):
        with path.open("rb") as f:
            catalogue.update(tomllib.load(f))
    texts: set[str] = set()
    for path in [*(ROOT / "screens" / "faceplate").glob("*.py"), ROOT / "screens/dialogs/login.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", "") == "tr"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                texts.add(str(node.args[0].value))
    from screens.dialogs.login import _POLICY
    from screens.faceplate.texts import _REFUSALS
    from screens.widgets.values import REASONS

    texts |= {t for _, t in _REFUSALS} | {t for _, t in _POLICY} | set(REASONS.values()) - {""}
    texts |= set(PRIORITY_WORDS.values())
    for name in ("SS1.HS301", "SS1.X_AUTO", "SS1.X_WC", "GS1.XV501_CMD", "SS1.X"):
        texts |= set(bool_meaning(name))
    assert sorted(texts - set(catalogue)) == []


# ---- the faceplate over a fake client ----------------------------------------------------------


def test_values_quality_state_and_title(qtbot: QtBot) -> None:
    client = FakeClient()
    client.store.update(
        [
            ("SS1.ZT301", good(42.04)),
            ("SS1.TT301", Value(None, Quality.BAD, Reason.COMM_FAILURE, None, 1.0)),
            ("SS1.ZC301", good(42.0)),
            ("SS1.TIC301_AUTO", good(True)),
        ]
    )
    faceplate, _, _ = open_faceplate(qtbot, client)
    assert faceplate.windowTitle() == "Control valve SS1.TV301"
    assert faceplate.values.text("SS1.ZT301") == ("42.0", "%", "good")
    assert faceplate.values.text("SS1.TT301") == ("BAD", "", "bad: communication failure")
    bad_cell = faceplate.values.cells["SS1.TT301"][2]
    assert theme.QUALITY_BAD_BG.name() in bad_cell.styleSheet()
    auto = faceplate.rows["SS1.TIC301_AUTO"]
    assert isinstance(auto, BoolCommandRow)
    assert (auto.on_button.text(), auto.off_button.text(), auto.state.text()) == (
        "Auto",
        "Manual",
        "Auto",
    )
    assert auto.on_button.property("active") is True
    assert auto.off_button.property("active") is False
    valve = faceplate.rows["SS1.ZC301"]
    assert isinstance(valve, NumberCommandRow)
    assert (valve.spin.minimum(), valve.spin.maximum(), valve.spin.suffix()) == (0, 100, " %")
    assert valve.spin.value() == 42.0 and valve.state.text() == "42.0 %"
    i18n.clear_missing()
    i18n.set_language("zh_CN")
    assert faceplate.windowTitle() == "调节阀 SS1.TV301"
    assert (auto.on_button.text(), auto.off_button.text()) == ("自动", "手动")
    assert faceplate.values.text("SS1.TT301") == ("坏值", "", "坏值: 通信故障")
    assert i18n.missing() == set()


def test_command_buttons_follow_the_permission_of_the_seat(qtbot: QtBot) -> None:
    client = FakeClient()
    faceplate, context, _ = open_faceplate(qtbot, client)
    buttons = [
        faceplate.rows["SS1.TIC301_AUTO"].on_button,  # type: ignore[attr-defined]
        faceplate.rows["SS1.TIC301_AUTO"].off_button,  # type: ignore[attr-defined]
        faceplate.rows["SS1.ZC301"].set_button,  # type: ignore[attr-defined]
    ]
    assert not any(b.isEnabled() for b in buttons), "nobody logged in"
    context.set_session(Person("guest", {("view", "SS1")}).session)
    assert not any(b.isEnabled() for b in buttons)
    context.set_session(Person("li", {("view", "SS1"), ("operate", "SS2")}).session)
    assert not any(b.isEnabled() for b in buttons), "operator of another area"
    context.set_session(Person("li", {("view", "SS1"), ("operate", "SS1")}).session)
    assert all(b.isEnabled() for b in buttons)
    context.set_session(None)
    assert not any(b.isEnabled() for b in buttons)


def test_trend_history_then_live_points(qtbot: QtBot) -> None:
    client = FakeClient()
    now = time.time()
    starts = np.array([now - 1800.0, now - 1200.0, now - 600.0])
    values = np.array([40.0, 41.0, 42.0])
    client.trend = {"SS1.ZT301": Trend(starts, values, values, values, values, values)}
    faceplate, _, refresher = open_faceplate(qtbot, client)
    assert client.calls[0] == ("history_trend", (("SS1.ZT301",), 3600.0, 300))
    qtbot.waitUntil(lambda: len(faceplate.trend.points("SS1.ZT301")) >= 3, timeout=2000)
    refresher.start()
    client.store.update([("SS1.ZT301", good(43.5, now))])
    qtbot.waitUntil(lambda: faceplate.trend.points("SS1.ZT301")[-1] == (now, 43.5), timeout=2000)
    client.store.update(
        [("SS1.ZT301", Value(None, Quality.BAD, Reason.COMM_FAILURE, None, now + 1))]
    )
    qtbot.waitUntil(lambda: faceplate.trend.points("SS1.ZT301")[-1][0] == now + 1, timeout=2000)
    assert np.isnan(faceplate.trend.points("SS1.ZT301")[-1][1]), "a bad value is a gap"
    xs, ys = faceplate.trend.curves["SS1.ZT301"].getData()
    assert list(ys[:3]) == [40.0, 41.0, 42.0], "the history first"
    assert ys[-2] == 43.5 and np.isnan(ys[-1]) and xs[-1] == now + 1
    refresher.stop()


def test_alarms_of_the_symbol_in_priority_colour(qtbot: QtBot) -> None:
    client = FakeClient()
    client.alarms = [
        alarm("SS1.TT301", Priority.HIGH, AlarmState.UNACK),
        alarm("HS1.TT101", Priority.URGENT, AlarmState.UNACK),  # another symbol's
    ]
    faceplate, _, _ = open_faceplate(qtbot, client)
    texts = faceplate.alarm_texts()
    assert len(texts) == 1 and "SS1.TT301" in texts[0] and "Supply temperature high" in texts[0]
    item = faceplate.alarm_list.item(0)
    assert item.background().color() == priority_colour(Priority.HIGH)
    i18n.set_language("zh_CN")
    assert "二次供水温度过高" in faceplate.alarm_list.item(0).text()
    faceplate.apply_alarms([alarm("SS1.TT301", Priority.HIGH, AlarmState.NORMAL)])
    assert faceplate.alarm_texts() == []
    assert faceplate.alarm_list.item(0).text() == "无活动报警"


def test_a_blocking_interlock_disables_confirm(qtbot: QtBot) -> None:
    client = FakeClient()
    client.select_error = CommandRefused(MANUAL_FIRST.message_en)
    client.store.update([("SS1.ZC301", good(50.0))])
    operator = Person("li", {("view", "SS1"), ("operate", "SS1")})
    faceplate, _, _ = open_faceplate(qtbot, client, operator)
    valve = faceplate.rows["SS1.ZC301"]
    assert isinstance(valve, NumberCommandRow)
    valve.spin.lineEdit().selectAll()
    qtbot.keyClicks(valve.spin.lineEdit(), "35")
    qtbot.mouseClick(valve.set_button, Qt.MouseButton.LeftButton)
    dialog = faceplate.command_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.step is Step.REFUSED, timeout=2000)
    assert client.calls[-1] == ("select", ("li", "SS1.ZC301", 35.0))
    assert not dialog.confirm_button.isEnabled() and not dialog.confirm_button.isVisible()
    assert dialog.interlock_texts() == [
        ("Blocking: Controller in AUTO: switch it to MANUAL first", True)
    ]
    blocking = dialog.findChild(QLabel, "interlockBlocking")
    assert blocking is not None and theme.PRIORITY[1].name() in blocking.styleSheet()
    assert "Refused, nothing written: Interlock:" in dialog.status.text()
    assert faceplate.result_label.text() == dialog.status.text()
    assert dialog.target_label.text() == "35.0 %" and dialog.limits.text() == "0.0 … 100.0 %"
    assert dialog.cancel_button.text() == "Close"
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()


# ---- against the heating simulator -------------------------------------------------------------

PASSWORDS = {
    "admin": "Plant-Boss-2026!x",
    "li.wei": "Valve-Shift-A-77",
    "guest": "Only-Looking-Here-1",
}


@pytest.fixture
def plant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InProcessClient]:
    """The demo station with its simulator (sped up: the valve strokes in seconds)."""
    monkeypatch.setenv("CONDUIT_HOME", str(tmp_path / "home"))
    station = Station.open(demo_copy(tmp_path), simulate=True, sim_speed=10.0)
    station.start()
    client = InProcessClient(station)
    try:
        assert station.users is not None
        for name, grants in (
            ("admin", "administrator"),
            ("li.wei", "operator:SS1"),
            ("guest", "viewer"),
        ):
            station.users.add_user(name, PASSWORDS[name], parse_grants(grants), by="test")
        store = station.runtime.store
        names = ("SS1.ZC301", "SS1.ZT301", "SS1.TIC301_AUTO", "SS1.TT301")
        wait_until(lambda: all(store.get(n).good for n in names), 30, "the valve's values good")
        yield client
    finally:
        client.close()


def heating(client: InProcessClient) -> Any:
    sim = client.station.simulation
    assert sim is not None and sim.heating is not None
    return sim.heating


def on_sim(client: InProcessClient, method: str, *args: Any) -> None:
    """Act on the simulated plant from its own loop (as an operator in the field would)."""
    sim = client.station.simulation
    assert sim is not None and sim.heating is not None
    sim.call(getattr(sim.heating.plant, method), *args)


def symbol_from(client: InProcessClient) -> SymbolDef:
    """The SS1 control valve from the project's screens, or the one built here."""
    for screen in client.screens().values():
        for symbol in getattr(screen, "symbols", ()):
            if symbol.state == "SS1.ZT301" and "SS1.ZC301" in symbol.commands:
                return symbol  # type: ignore[no-any-return]
    return VALVE


def seat(qtbot: QtBot, client: InProcessClient, user: str) -> tuple[Faceplate, Refresher]:
    session = client.login(user, PASSWORDS[user]).result(10)
    refresher = Refresher(client, interval_ms=100)
    context = AppContext(client, refresher)
    context.set_session(session)
    faceplate = Faceplate(context, symbol_from(client))
    qtbot.addWidget(faceplate)
    refresher.setParent(faceplate)
    refresher.subscribe(faceplate.apply)
    refresher.subscribe_alarms(faceplate.apply_alarms)
    refresher.start()
    faceplate.show()
    return faceplate, refresher


def click(qtbot: QtBot, button: QPushButton) -> None:
    assert button.isEnabled() and button.isVisible(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def type_target(qtbot: QtBot, row: NumberCommandRow, text: str) -> None:
    row.spin.lineEdit().selectAll()
    qtbot.keyClicks(row.spin.lineEdit(), text)


@pytest.mark.slow
def test_an_operator_switches_to_manual_and_sets_the_valve_to_35_percent(
    qtbot: QtBot, plant: InProcessClient
) -> None:
    faceplate, refresher = seat(qtbot, plant, "li.wei")
    auto = faceplate.rows["SS1.TIC301_AUTO"]
    valve = faceplate.rows["SS1.ZC301"]
    assert isinstance(auto, BoolCommandRow) and isinstance(valve, NumberCommandRow)
    if auto.active is not True:  # the demo starts in AUTO; make sure the test proves Manual
        on_sim(plant, "write", "SS1.TIC301_AUTO", True)
        qtbot.waitUntil(lambda: auto.active is True, timeout=10_000)
    assert auto.state.text() == "Auto"
    # Manual: a plain command (not critical), confirmed in the dialog
    click(qtbot, auto.off_button)
    manual = faceplate.command_dialog
    assert manual is not None and manual.isModal()
    qtbot.waitUntil(lambda: manual.step is Step.SELECTED, timeout=10_000)
    assert (manual.current.text(), manual.target_label.text()) == ("Auto", "Manual")
    assert not manual.password.isVisible()
    click(qtbot, manual.confirm_button)
    qtbot.waitUntil(lambda: manual.step is Step.DONE, timeout=20_000)
    assert manual.status.text() == "Verified: Manual (read back Manual)"
    qtbot.waitUntil(lambda: auto.state.text() == "Manual", timeout=5000)
    assert auto.off_button.property("active") is True
    # 35 %: critical, the password again
    before = heating(plant).write_requests
    type_target(qtbot, valve, "35")
    click(qtbot, valve.set_button)
    dialog = faceplate.command_dialog
    assert dialog is not None and dialog is not manual
    qtbot.waitUntil(lambda: dialog.step is Step.SELECTED, timeout=10_000)
    assert dialog.target_label.text() == "35.0 %"
    assert dialog.limits.text() == "0.0 … 100.0 %"
    assert dialog.critical_label.isVisible() and dialog.password.isVisible()
    assert dialog.interlock_texts() == [
        ("Clear: Controller in AUTO: switch it to MANUAL first", False)
    ]
    qtbot.keyClicks(dialog.password, PASSWORDS["li.wei"])
    click(qtbot, dialog.confirm_button)
    assert dialog.password.text() == "", "the password is not kept"
    qtbot.waitUntil(lambda: dialog.step is Step.OPERATING, timeout=10_000)
    assert dialog.status.text() == "Written, waiting for read-back…"
    assert not dialog.confirm_button.isVisible()
    qtbot.waitUntil(lambda: dialog.step is Step.DONE, timeout=60_000)
    result = dialog.command_result
    assert result is not None and result.outcome is Outcome.VERIFIED, result
    assert abs(result.readback - 35.0) <= 2.0
    shown = f"Verified: 35.0 % (read back {result.readback:.1f} %)"
    assert dialog.status.text() == shown
    assert faceplate.result_label.text() == shown
    # the plant holds 35 %: the runtime's value and the simulator's register
    qtbot.waitUntil(lambda: plant.snapshot()[1]["SS1.ZC301"].value == 35.0, timeout=5000)
    sim = heating(plant)
    assert sim.plant.read("SS1.ZC301") == 35.0
    assert sim.applied_writes[-1] == ("SS1.ZC301", 35.0)
    assert sim.write_requests == before + 1
    qtbot.waitUntil(lambda: valve.state.text() == "35.0 %", timeout=5000)
    refresher.stop()


@pytest.mark.slow
def test_a_viewer_cannot_command_and_a_forced_call_is_refused_by_the_core(
    qtbot: QtBot, plant: InProcessClient
) -> None:
    faceplate, refresher = seat(qtbot, plant, "guest")
    valve = faceplate.rows["SS1.ZC301"]
    auto = faceplate.rows["SS1.TIC301_AUTO"]
    assert isinstance(valve, NumberCommandRow) and isinstance(auto, BoolCommandRow)
    assert not valve.set_button.isEnabled() and not valve.spin.isEnabled()
    assert not auto.on_button.isEnabled() and not auto.off_button.isEnabled()
    before = heating(plant).write_requests
    applied = list(heating(plant).applied_writes)
    # forced past the screen: the core refuses
    guest = faceplate.context.session
    with pytest.raises(CommandRefused, match="guest may not operate in area 'SS1'"):
        plant.select(guest, "SS1.ZC301", 35.0).result(10)  # type: ignore[arg-type]
    valve.set_allowed(True)
    type_target(qtbot, valve, "35")
    click(qtbot, valve.set_button)
    dialog = faceplate.command_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.step is Step.REFUSED, timeout=10_000)
    assert dialog.status.text() == ("Refused, nothing written: guest may not operate in area SS1")
    assert not dialog.confirm_button.isVisible()
    assert heating(plant).write_requests == before
    assert heating(plant).applied_writes == applied, "nothing reached the plant"
    refresher.stop()


@pytest.mark.slow
def test_a_wrong_password_refuses_the_critical_command(
    qtbot: QtBot, plant: InProcessClient
) -> None:
    on_sim(plant, "write", "SS1.TIC301_AUTO", False)  # MANUAL: the valve may be commanded
    faceplate, refresher = seat(qtbot, plant, "li.wei")
    valve = faceplate.rows["SS1.ZC301"]
    assert isinstance(valve, NumberCommandRow)
    qtbot.waitUntil(
        lambda: faceplate.rows["SS1.TIC301_AUTO"].state.text() == "Manual", timeout=10_000
    )
    before = heating(plant).write_requests
    applied = list(heating(plant).applied_writes)
    type_target(qtbot, valve, "35")
    click(qtbot, valve.set_button)
    dialog = faceplate.command_dialog
    assert isinstance(dialog, CommandDialog)
    qtbot.waitUntil(lambda: dialog.step is Step.SELECTED, timeout=10_000)
    qtbot.keyClicks(dialog.password, "Not-my-password-1")
    click(qtbot, dialog.confirm_button)
    qtbot.waitUntil(lambda: "Wrong password" in dialog.status.text(), timeout=10_000)
    assert dialog.status.text() == "Wrong password: the command was not confirmed"
    assert faceplate.result_label.text() == dialog.status.text()
    assert dialog.step is Step.SELECTED and dialog.confirm_button.isEnabled(), "may try again"
    click(qtbot, dialog.cancel_button)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5000)
    assert heating(plant).write_requests == before
    assert heating(plant).applied_writes == applied, "nothing reached the plant"
    refresher.stop()

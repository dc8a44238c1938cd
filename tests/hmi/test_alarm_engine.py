"""The alarm engine: conditions on tag changes, delays on the tick, requests gated in the core."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hmi.alarm_config import AlarmDef
from hmi.alarms.engine import (
    ACKNOWLEDGE,
    EDIT_LIMITS,
    MAX_SHELVE,
    SHELVE,
    AlarmEngine,
    PermissionDenied,
    RequestRefused,
)
from hmi.alarms.model import AlarmKind, AlarmState, Event, Priority, Transition
from hmi.tags import Quality, Reason, Value


@dataclass
class Person:
    name: str
    permissions: dict[str, set[str]] = field(default_factory=dict)  # permission -> areas

    def may(self, permission: str, area: str) -> bool:
        return area in self.permissions.get(permission, set())


class ListJournal:
    def __init__(self) -> None:
        self.records: list[Transition] = []

    def record(self, transitions: list[Transition]) -> None:
        self.records.extend(transitions)


class Plant:
    """Current values and a clock the test moves."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.values: dict[str, Value] = {}

    def read(self, name: str) -> Value:
        return self.values.get(name, Value.initial())

    def set(self, engine: AlarmEngine, name: str, value: object, good: bool = True) -> None:
        v = Value(
            value,
            Quality.GOOD if good else Quality.BAD,
            Reason.NONE if good else Reason.COMM_FAILURE,
            recv_ts=self.now,
        )
        self.values[name] = v
        engine.on_changes([(name, v)])


DEFS = {
    d.id: d
    for d in (
        AlarmDef(
            "HS1.TT101.hi",
            "HS1.TT101",
            AlarmKind.HI,
            limit=95,
            deadband=1,
            on_delay=5,
            priority=Priority.HIGH,
            area="HS1",
            message_en="TT101 high",
        ),
        AlarmDef(
            "HS1.TT101.deviation",
            "HS1.TT101",
            AlarmKind.DEVIATION,
            limit=5,
            setpoint="HS1.TY101",
            area="HS1",
        ),
        AlarmDef(
            "SS1.FT201.lo", "SS1.FT201", AlarmKind.LO, limit=2, area="SS1", suppress="SS1.P201 == 0"
        ),
        AlarmDef(
            "_diag.PLC_SS1.online.offline",
            "_diag.PLC_SS1.online",
            AlarmKind.OFFLINE,
            on_delay=30,
            priority=Priority.HIGH,
            area="PLC_SS1",
        ),
    )
}

OPERATOR = Person("li.wei", {ACKNOWLEDGE: {"HS1", "SS1", "PLC_SS1"}, SHELVE: {"HS1"}})
VIEWER = Person("guest")


@pytest.fixture
def setup() -> tuple[AlarmEngine, Plant, ListJournal]:
    plant, journal = Plant(), ListJournal()
    engine = AlarmEngine(DEFS, journal, plant.read, host="console-1", clock=lambda: plant.now)
    return engine, plant, journal


def test_a_limit_alarm_waits_its_on_delay_and_is_acknowledged(setup) -> None:
    engine, plant, journal = setup
    plant.set(engine, "HS1.TT101", 96.0)
    assert engine.view("HS1.TT101.hi").state is AlarmState.NORMAL  # on-delay running
    plant.now += 5
    engine.tick()
    view = engine.view("HS1.TT101.hi")
    assert view.state is AlarmState.UNACK and view.value == 96.0 and view.limit == 95
    assert [(t.alarm, t.event, t.host) for t in journal.records] == [
        ("HS1.TT101.hi", Event.ACTIVATE, "console-1")
    ]
    assert [v.id for v in engine.active()] == ["HS1.TT101.hi"]
    assert engine.ack(OPERATOR, ["HS1.TT101.hi"], "field check") == []
    assert journal.records[-1].user == "li.wei" and journal.records[-1].comment == "field check"
    plant.set(engine, "HS1.TT101", 94.5)  # inside the deadband: still active
    assert engine.view("HS1.TT101.hi").state is AlarmState.ACKED
    plant.set(engine, "HS1.TT101", 93.9)
    assert engine.view("HS1.TT101.hi").state is AlarmState.NORMAL


def test_transitions_before_the_journal_is_attached_reach_it_first_and_in_order() -> None:
    """The station's runtime starts before its journal opens: what the alarms did meanwhile is
    journaled when it is attached, before anything after."""
    plant, journal = Plant(), ListJournal()
    engine = AlarmEngine(DEFS, None, plant.read, host="console-1", clock=lambda: plant.now)
    engine.hold_transitions()
    plant.set(engine, "SS1.P201", 1)
    plant.set(engine, "SS1.FT201", 1.0)  # low: active at once
    plant.set(engine, "SS1.FT201", 3.0)  # and clear
    assert journal.records == []
    engine.attach_journal(journal)
    plant.set(engine, "SS1.FT201", 1.5)
    assert [t.event for t in journal.records] == [Event.ACTIVATE, Event.CLEAR, Event.ACTIVATE]
    engine.attach_journal(None)  # closed: nowhere again, nothing held
    plant.set(engine, "SS1.FT201", 3.0)
    assert len(journal.records) == 3 and engine._held is None


def test_without_a_hold_nothing_waits_for_a_journal() -> None:
    plant = Plant()
    engine = AlarmEngine(DEFS, None, plant.read, clock=lambda: plant.now)
    plant.set(engine, "SS1.P201", 1)
    plant.set(engine, "SS1.FT201", 1.0)
    journal = ListJournal()
    engine.attach_journal(journal)
    assert journal.records == [] and engine.view("SS1.FT201.lo").active


def test_without_the_permission_nothing_changes_and_nothing_is_journaled(setup) -> None:
    engine, plant, journal = setup
    plant.set(engine, "SS1.FT201", 1.0)  # lo, no delay
    before = list(journal.records)
    with pytest.raises(PermissionDenied, match="guest may not acknowledge"):
        engine.ack(VIEWER, ["SS1.FT201.lo"])
    with pytest.raises(PermissionDenied, match="may not shelve in area 'SS1'"):
        engine.shelve(OPERATOR, "SS1.FT201.lo", "sensor work", 600)
    assert journal.records == before
    assert engine.view("SS1.FT201.lo").state is AlarmState.UNACK


def test_deviation_follows_its_setpoint(setup) -> None:
    engine, plant, _ = setup
    plant.set(engine, "HS1.TY101", 90.0)
    plant.set(engine, "HS1.TT101", 92.0)
    assert not engine.view("HS1.TT101.deviation").active
    plant.set(engine, "HS1.TY101", 80.0)  # only the setpoint changed: |92 - 80| > 5
    assert engine.view("HS1.TT101.deviation").active


def test_suppressed_by_design_while_the_pump_is_stopped(setup) -> None:
    engine, plant, _ = setup
    plant.set(engine, "SS1.P201", 0)
    plant.set(engine, "SS1.FT201", 0.5)
    assert engine.view("SS1.FT201.lo").state is AlarmState.SUPPRESSED
    assert engine.active()[0].state is AlarmState.SUPPRESSED
    plant.set(engine, "SS1.P201", 1)  # pump runs, flow still low: the alarm shows
    assert engine.view("SS1.FT201.lo").state is AlarmState.UNACK


def test_shelving_is_limited_and_ends_by_itself(setup) -> None:
    engine, plant, journal = setup
    plant.set(engine, "HS1.TT101", 99.0)
    plant.now += 5
    engine.tick()
    with pytest.raises(RequestRefused):
        engine.shelve(OPERATOR, "HS1.TT101.hi", "known fault", engine.max_shelve + 1)
    engine.shelve(OPERATOR, "HS1.TT101.hi", "burner service", 600)
    view = engine.view("HS1.TT101.hi")
    assert view.state is AlarmState.SHELVED and view.shelved_by == "li.wei"
    plant.now += 600
    engine.tick()
    assert engine.view("HS1.TT101.hi").state is AlarmState.UNACK  # back, unacknowledged
    assert [t.event for t in journal.records][-2:] == [Event.SHELVE, Event.UNSHELVE]


def test_device_offline_after_its_delay_and_back(setup) -> None:
    engine, plant, _ = setup
    plant.set(engine, "_diag.PLC_SS1.online", False)
    plant.now += 29
    engine.tick()
    assert not engine.view("_diag.PLC_SS1.online.offline").active
    plant.now += 1
    engine.tick()
    assert engine.view("_diag.PLC_SS1.online.offline").state is AlarmState.UNACK
    plant.set(engine, "_diag.PLC_SS1.online", True)
    assert engine.view("_diag.PLC_SS1.online.offline").state is AlarmState.RTN_UNACK


def test_clients_pull_what_changed(setup) -> None:
    engine, plant, _ = setup
    version, changed = engine.changes_since(0)
    assert changed == []
    plant.set(engine, "SS1.FT201", 1.0)
    version, changed = engine.changes_since(version)
    assert [v.id for v in changed] == ["SS1.FT201.lo"]
    assert engine.changes_since(version) == (version, [])


ENGINEER = Person("zhang.min", {EDIT_LIMITS: {"HS1"}})


def test_an_engineer_edits_a_limit_and_it_applies_at_once(setup) -> None:
    engine, plant, journal = setup
    written: list[tuple[str, str, object]] = []
    engine.persist = lambda alarm, field, value: written.append((alarm.id, field, value))
    plant.set(engine, "HS1.TT101", 97.0)
    plant.now += 5
    engine.tick()
    assert engine.view("HS1.TT101.hi").active
    new = engine.edit(ENGINEER, "HS1.TT101.hi", "limit", 100, "summer operation")
    assert new.limit == 100.0 and written == [("HS1.TT101.hi", "limit", 100.0)]
    view = engine.view("HS1.TT101.hi")
    assert view.limit == 100.0 and not view.active, "97 is below the new limit: cleared at once"
    edit = next(t for t in journal.records if t.event is Event.EDIT)
    assert (edit.user, edit.comment) == ("zhang.min", "limit: 95 -> 100 (summer operation)")
    assert journal.records[-1].event is Event.CLEAR
    engine.edit(ENGINEER, "HS1.TT101.hi", "priority", "urgent")
    engine.edit(ENGINEER, "HS1.TT101.hi", "on_delay", 0)
    plant.set(engine, "HS1.TT101", 101.0)  # no delay any more, urgent now
    assert journal.records[-1].event is Event.ACTIVATE
    assert journal.records[-1].priority is Priority.URGENT


@pytest.mark.parametrize(
    ("who", "field", "value", "error", "message"),
    [
        (OPERATOR, "limit", 100, PermissionDenied, "li.wei may not edit_limits in area 'HS1'"),
        (ENGINEER, "message", "x", RequestRefused, "'message' cannot be changed at run time"),
        (ENGINEER, "limit", "hot", RequestRefused, "expected a number, got 'hot'"),
        (ENGINEER, "on_delay", -1, RequestRefused, "must be a finite number >= 0"),
        (ENGINEER, "priority", "extreme", RequestRefused, "priority"),
        (ENGINEER, "latch", 1, RequestRefused, "expected true or false"),
    ],
)
def test_edits_that_are_refused_change_nothing(setup, who, field, value, error, message) -> None:
    engine, _, journal = setup
    engine.persist = lambda *args: pytest.fail("a refused edit must not reach the files")
    before = engine.view("HS1.TT101.hi")
    with pytest.raises(error, match=message):
        engine.edit(who, "HS1.TT101.hi", field, value)
    assert engine.view("HS1.TT101.hi") == before and journal.records == []


def test_an_edit_the_project_files_refuse_is_not_applied(setup) -> None:
    engine, _, journal = setup

    def refuse(alarm: AlarmDef, field: str, value: object) -> None:
        raise ValueError("tags.toml:12: limit: hi limit 130 must be below the hihi limit 120")

    engine.persist = refuse
    with pytest.raises(RequestRefused, match="must be below the hihi limit"):
        engine.edit(ENGINEER, "HS1.TT101.hi", "limit", 130)
    assert engine.view("HS1.TT101.hi").limit == 95 and journal.records == []


@settings(max_examples=150, deadline=None)
@given(
    on_delay=st.sampled_from([0.0, 3.0]),
    off_delay=st.sampled_from([0.0, 2.0]),
    steps=st.lists(
        st.tuples(
            st.sampled_from([1.0, 2.0, 5.0]),
            st.one_of(st.floats(80, 110), st.sampled_from(["ack", "shelve", "unshelve", "tick"])),
        ),
        max_size=40,
    ),
)
def test_the_engine_ticks_exactly_what_a_full_sweep_would(
    on_delay: float, off_delay: float, steps: list[tuple[float, float | str]]
) -> None:
    """The engine's tick visits only alarms with something due: same journal as ticking all."""
    from hmi.alarms.conditions import Condition, ConditionDef
    from hmi.alarms.state import Alarm

    d = AlarmDef(
        "A.T.hi", "A.T", AlarmKind.HI, limit=95, on_delay=on_delay, off_delay=off_delay, area="A"
    )
    plant, journal = Plant(), ListJournal()
    engine = AlarmEngine({d.id: d}, journal, plant.read, host="h", clock=lambda: plant.now)
    reference = Alarm(id=d.id, tag=d.tag, area="A", on_delay=on_delay, off_delay=off_delay)
    condition = Condition(ConditionDef(kind=AlarmKind.HI, limit=95))  # the same hysteresis
    expected: list[Transition] = []
    who = Person("op", {ACKNOWLEDGE: {"A"}, SHELVE: {"A"}})
    for dt, action in steps:
        plant.now += dt
        if isinstance(action, float):
            plant.set(engine, "A.T", action)
            raw = condition.evaluate(action, Quality.GOOD, plant.now)
            expected += reference.update(raw, plant.now, action, 95.0)
        elif action == "tick":
            engine.tick()
            expected += reference.tick(plant.now)
        else:
            request = {
                "ack": lambda: engine.ack(who, [d.id]),
                "shelve": lambda: engine.shelve(who, d.id, "test", 4.0),
                "unshelve": lambda: engine.unshelve(who, d.id),
            }[action]
            with contextlib.suppress(RequestRefused):
                request()
            expected += {
                "ack": lambda: reference.ack("op", "", plant.now),
                "shelve": lambda: reference.shelve("op", "test", plant.now, 4.0, MAX_SHELVE),
                "unshelve": lambda: reference.unshelve("op", plant.now),
            }[action]()
    assert [(t.ts, t.event, t.state) for t in journal.records] == [
        (t.ts, t.event, t.state) for t in expected
    ]

"""The alarm state machine: delays, ack, latch and reset, shelving, suppression, out of service.

Example tests for each rule, a chattering test, and a hypothesis state machine that drives random
sequences of samples, requests and time and replays the journal against the observed state.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)

from hmi.alarms.conditions import Condition, ConditionDef
from hmi.alarms.model import AlarmKind, AlarmState, Event, Priority, Transition
from hmi.alarms.state import Alarm, AlarmRefused, Outcome
from hmi.tags import Quality

N, UNACK, ACKED, RTN = AlarmState.NORMAL, AlarmState.UNACK, AlarmState.ACKED, AlarmState.RTN_UNACK


def make(**kwargs: object) -> Alarm:
    """An alarm on HS1.TT101 with the given options."""
    fields: dict[str, object] = {"id": "HS1.TT101.hi", "tag": "HS1.TT101", "area": "HS1"}
    fields.update(kwargs)
    return Alarm(**fields)  # type: ignore[arg-type]


def events(out: list[Transition]) -> list[tuple[Event, AlarmState]]:
    """(event, resulting state) of each transition."""
    return [(t.event, t.state) for t in out]


# -- the basic cycle -----------------------------------------------------------------------------


def test_activate_ack_clear() -> None:
    a = make(priority=Priority.HIGH)
    out = a.update(True, 10.0, value=91.2, limit=90.0)
    assert out == [
        Transition(
            ts=10.0,
            alarm="HS1.TT101.hi",
            event=Event.ACTIVATE,
            state=UNACK,
            priority=Priority.HIGH,
            area="HS1",
            tag="HS1.TT101",
            value=91.2,
            limit=90.0,
        )
    ]
    ack = a.ack("op1", "seen, calling the boiler house", 12.0)
    assert events(ack) == [(Event.ACK, ACKED)]
    assert (ack[0].user, ack[0].comment, ack[0].value) == (
        "op1",
        "seen, calling the boiler house",
        None,
    )
    assert events(a.update(False, 20.0, value=88.0, limit=90.0)) == [(Event.CLEAR, N)]
    assert a.state is N


def test_return_to_normal_unacked_then_ack_is_normal_never_acked_normal() -> None:
    a = make()
    a.update(True, 0.0)
    assert events(a.update(False, 1.0)) == [(Event.CLEAR, RTN)]
    assert events(a.ack("op1", "", 2.0)) == [(Event.ACK, N)]
    assert (a.active, a.acked, a.state) == (False, True, N)


def test_repeated_samples_change_nothing() -> None:
    a = make()
    assert a.update(False, 0.0) == []
    a.update(True, 1.0)
    assert a.update(True, 2.0) == []
    assert a.tick(3.0) == []


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ([], "not in alarm"),
        ([("update", True, 0.0), ("ack", 1.0)], "already acknowledged"),
    ],
)
def test_ack_refusals(setup: list[tuple[object, ...]], message: str) -> None:
    a = make()
    for step in setup:
        if step[0] == "update":
            a.update(bool(step[1]), float(step[2]))  # type: ignore[arg-type]
        else:
            a.ack("op1", "", float(step[1]))  # type: ignore[arg-type]
    out = a.ack("op1", "", 5.0)
    assert out == [] and not out.ok and message in out.refused
    with pytest.raises(AlarmRefused, match=message):
        out.check()


def test_bad_delays_are_refused() -> None:
    with pytest.raises(ValueError, match="on_delay"):
        make(on_delay=-1.0)
    with pytest.raises(ValueError, match="off_delay"):
        make(off_delay=math.inf)


# -- delays --------------------------------------------------------------------------------------


def test_on_delay_needs_the_condition_to_hold_continuously() -> None:
    a = make(on_delay=5.0)
    assert a.update(True, 0.0) == []
    assert a.update(False, 4.0) == []  # gone before 5 s
    assert a.update(True, 6.0) == []
    assert a.update(True, 10.0) == []
    assert events(a.update(True, 11.0)) == [(Event.ACTIVATE, UNACK)]


def test_on_delay_fires_on_tick_without_a_new_sample() -> None:
    a = make(on_delay=5.0)
    a.update(True, 0.0, value=91.0, limit=90.0)
    assert a.tick(4.9) == []
    out = a.tick(5.0)
    assert events(out) == [(Event.ACTIVATE, UNACK)]
    assert (out[0].ts, out[0].value, out[0].limit) == (5.0, 91.0, 90.0)


def test_a_late_sample_first_settles_the_delay_it_outlasted() -> None:
    """True held 7 s (sample and hold) then False: active at once, then off-delay runs."""
    a = make(on_delay=5.0, off_delay=3.0)
    a.update(True, 0.0)
    assert events(a.update(False, 7.0)) == [(Event.ACTIVATE, UNACK)]
    assert a.tick(9.9) == []
    assert events(a.tick(10.0)) == [(Event.CLEAR, RTN)]


def test_off_delay_needs_the_condition_to_stay_clear() -> None:
    a = make(off_delay=10.0)
    a.update(True, 0.0)
    assert a.update(False, 1.0) == []
    assert a.update(True, 5.0) == []  # back before 10 s: still the same activation
    assert a.update(False, 6.0) == []
    assert a.tick(15.9) == []
    assert events(a.tick(16.0)) == [(Event.CLEAR, RTN)]


# -- latching ------------------------------------------------------------------------------------


def test_latched_alarm_holds_until_acked_and_reset() -> None:
    a = make(latch=True)
    a.update(True, 0.0)
    assert events(a.update(False, 1.0)) == [(Event.CLEAR, UNACK)]
    assert (a.active, a.latched, a.condition) == (True, True, False)
    assert "acknowledge it first" in a.reset("op1", 2.0).refused
    assert events(a.ack("op1", "", 3.0)) == [(Event.ACK, ACKED)]
    out = a.reset("op1", 4.0)
    assert events(out) == [(Event.RESET, N)] and out[0].user == "op1"
    assert (a.active, a.latched) == (False, False)


def test_reset_refusals() -> None:
    assert "not a latching" in make().reset("op1", 0.0).refused
    a = make(latch=True)
    assert "not in alarm" in a.reset("op1", 0.0).refused
    a.update(True, 1.0)
    a.ack("op1", "", 2.0)
    assert "still active" in a.reset("op1", 3.0).refused
    a.update(False, 4.0)
    a.shelve("op1", "noisy", 5.0, 60.0, 600.0)
    assert "shelved" in a.reset("op1", 6.0).refused


def test_reactivation_while_latched_is_a_new_unacked_activation() -> None:
    a = make(latch=True)
    a.update(True, 0.0)
    a.ack("op1", "", 1.0)
    a.update(False, 2.0)
    assert events(a.update(True, 3.0)) == [(Event.ACTIVATE, UNACK)]
    assert not a.latched


# -- shelving ------------------------------------------------------------------------------------


def test_timed_shelve_records_who_why_until_and_expires() -> None:
    a = make()
    a.update(True, 0.0)
    out = a.shelve("op1", "sensor being replaced", 10.0, 300.0, 3600.0)
    assert events(out) == [(Event.SHELVE, AlarmState.SHELVED)]
    assert (out[0].user, out[0].comment) == ("op1", "sensor being replaced")
    assert a.shelf is not None
    assert (a.shelf.user, a.shelf.reason, a.shelf.until, a.shelf.one_shot) == (
        "op1",
        "sensor being replaced",
        310.0,
        False,
    )
    assert a.tick(309.9) == []
    out = a.tick(310.0)
    assert events(out) == [(Event.UNSHELVE, UNACK)]  # still active: annunciated again
    assert out[0].user == "" and "ran out" in out[0].comment


@pytest.mark.parametrize(
    ("duration", "max_duration", "reason", "message"),
    [
        (3601.0, 3600.0, "why", "longer than the maximum"),
        (0.0, 3600.0, "why", "not above zero"),
        (math.nan, 3600.0, "why", "not above zero"),
        (60.0, 0.0, "why", "maximum"),
        (60.0, 3600.0, "  ", "reason"),
    ],
)
def test_shelve_refusals(duration: float, max_duration: float, reason: str, message: str) -> None:
    a = make()
    out = a.shelve("op1", reason, 0.0, duration, max_duration)
    assert out == [] and message in out.refused and not a.shelved


def test_shelving_twice_is_refused_and_unshelving_an_unshelved_alarm_too() -> None:
    a = make()
    assert "not shelved" in a.unshelve("op1", 0.0).refused
    a.shelve("op1", "why", 0.0, 60.0, 600.0)
    assert "already shelved by op1" in a.shelve("op2", "why", 1.0, 60.0, 600.0).refused
    assert events(a.unshelve("op2", 2.0)) == [(Event.UNSHELVE, N)]


def test_a_request_first_brings_the_alarm_up_to_now() -> None:
    """The shelf ran out without a tick: a new shelve is journaled after the automatic unshelve."""
    a = make()
    a.shelve("op1", "why", 0.0, 60.0, 600.0)
    out = a.shelve("op2", "again", 100.0, 60.0, 600.0)
    assert out.ok
    assert [(t.event, t.user) for t in out] == [(Event.UNSHELVE, ""), (Event.SHELVE, "op2")]


def test_one_shot_shelve_ends_when_the_condition_clears() -> None:
    a = make()
    a.update(True, 0.0)
    a.shelve("op1", "known, crew on site", 1.0, 3600.0, 3600.0, one_shot=True)
    assert a.update(True, 100.0) == []
    out = a.update(False, 200.0)
    assert events(out) == [(Event.CLEAR, AlarmState.SHELVED), (Event.UNSHELVE, N)]
    assert "one-shot" in out[1].comment
    assert a.update(True, 300.0)[0].state is UNACK  # the next activation is annunciated


def test_one_shot_shelve_still_ends_at_its_time() -> None:
    a = make()
    a.update(True, 0.0)
    a.shelve("op1", "why", 1.0, 60.0, 600.0, one_shot=True)
    assert events(a.tick(61.0)) == [(Event.UNSHELVE, UNACK)]


def test_the_condition_evolves_and_is_journaled_while_shelved() -> None:
    a = make()
    a.shelve("op1", "why", 0.0, 600.0, 600.0)
    assert events(a.update(True, 1.0, value=95.0)) == [(Event.ACTIVATE, AlarmState.SHELVED)]
    assert (a.active, a.acked) == (True, False)
    assert "shelved" in a.ack("op1", "", 2.0).refused  # not shown, so not acknowledged
    assert events(a.update(False, 3.0)) == [(Event.CLEAR, AlarmState.SHELVED)]
    assert events(a.unshelve("op1", 4.0)) == [(Event.UNSHELVE, N)]  # back through normal


def test_an_acked_alarm_unshelved_while_active_is_annunciated_again() -> None:
    a = make()
    a.update(True, 0.0)
    a.ack("op1", "", 1.0)
    a.shelve("op1", "why", 2.0, 60.0, 600.0)
    assert events(a.unshelve("op1", 3.0)) == [(Event.UNSHELVE, UNACK)]


def test_shelf_expiry_and_a_delay_fire_in_the_order_they_fell_due() -> None:
    a = make(on_delay=5.0)
    a.shelve("op1", "why", 0.0, 10.0, 600.0)
    a.update(True, 1.0)  # due at 6, shelf ends at 10
    assert events(a.tick(20.0)) == [
        (Event.ACTIVATE, AlarmState.SHELVED),
        (Event.UNSHELVE, UNACK),
    ]
    b = make(on_delay=5.0)
    b.shelve("op1", "why", 0.0, 3.0, 600.0)
    b.update(True, 1.0)  # due at 6, shelf ends at 3
    assert events(b.tick(20.0)) == [(Event.UNSHELVE, N), (Event.ACTIVATE, UNACK)]


# -- suppression by design and out of service ----------------------------------------------------


def test_suppression_follows_its_condition_and_repeats_are_no_ops() -> None:
    a = make()
    assert events(a.suppress(True, 0.0)) == [(Event.SUPPRESS, AlarmState.SUPPRESSED)]
    out = a.suppress(True, 1.0)
    assert out == [] and out.ok
    assert events(a.update(True, 2.0)) == [(Event.ACTIVATE, AlarmState.SUPPRESSED)]
    assert events(a.suppress(False, 3.0)) == [(Event.UNSUPPRESS, UNACK)]
    assert a.suppress(False, 4.0) == []


def test_out_of_service_wins_over_suppressed_and_shelved() -> None:
    a = make()
    a.update(True, 0.0)
    a.shelve("op1", "why", 1.0, 600.0, 600.0)
    assert a.state is AlarmState.SHELVED
    a.suppress(True, 2.0)
    assert a.state is AlarmState.SUPPRESSED
    out = a.remove_from_service("tech", "transmitter replaced", 3.0)
    assert events(out) == [(Event.REMOVE_FROM_SERVICE, AlarmState.OUT_OF_SERVICE)]
    assert a.removal is not None and a.removal.reason == "transmitter replaced"
    assert "already out of service (tech)" in a.remove_from_service("x", "y", 4.0).refused
    assert events(a.unshelve("op1", 5.0)) == [(Event.UNSHELVE, AlarmState.OUT_OF_SERVICE)]
    assert events(a.suppress(False, 6.0)) == [(Event.UNSUPPRESS, AlarmState.OUT_OF_SERVICE)]
    assert events(a.return_to_service("tech", 7.0)) == [(Event.RETURN_TO_SERVICE, UNACK)]
    assert "in service" in a.return_to_service("tech", 8.0).refused


def test_out_of_service_needs_a_reason() -> None:
    out = make().remove_from_service("tech", "", 0.0)
    assert "reason" in out.refused


# -- chattering ----------------------------------------------------------------------------------


def hovering(seed: int) -> list[float]:
    """An hour of 1 s samples hovering ±0.3 around 90."""
    rng = random.Random(seed)
    return [90.0 + rng.uniform(-0.3, 0.3) for _ in range(3600)]


def activations(values: list[float], deadband: float, on_delay: float) -> list[Transition]:
    """The ACTIVATE transitions of a HI 90 alarm fed `values` one second apart."""
    cond = Condition(ConditionDef(kind=AlarmKind.HI, limit=90.0, deadband=deadband))
    alarm = make(on_delay=on_delay)
    out: list[Transition] = []
    for t, v in enumerate(values):
        in_alarm = cond.evaluate(v, Quality.GOOD, float(t))
        out += alarm.update(in_alarm, float(t), value=cond.measured, limit=cond.limit)
        out += alarm.tick(t + 0.5)
    return [x for x in out if x.event is Event.ACTIVATE]


def test_on_delay_and_deadband_stop_chattering() -> None:
    values = hovering(seed=11)
    assert len(activations(values, deadband=0.0, on_delay=0.0)) > 500  # the raw signal chatters
    found = activations(values, deadband=1.0, on_delay=5.0)
    assert len(found) == 1
    assert found[0].value is not None and found[0].value > 90.0


def test_on_delay_ignores_short_excursions() -> None:
    """Above the limit 3 s in every 20 s for an hour: never active with a 5 s on-delay."""
    values = [91.0 if t % 20 < 3 else 85.0 for t in range(3600)]
    assert len(activations(values, deadband=1.0, on_delay=0.0)) == 180
    assert activations(values, deadband=1.0, on_delay=5.0) == []


# -- the state machine, driven at random ---------------------------------------------------------


@dataclass(frozen=True)
class Snap:
    """The observable state of an alarm: what a transition must account for."""

    active: bool
    acked: bool
    latched: bool
    shelved: bool
    suppressed: bool
    oos: bool

    @classmethod
    def of(cls, a: Alarm) -> Snap:
        """Read it from an alarm."""
        return cls(a.active, a.acked, a.latched, a.shelved, a.suppressed, a.out_of_service)

    @property
    def state(self) -> AlarmState:
        """The state this snapshot shows (the sub-states win)."""
        if self.oos:
            return AlarmState.OUT_OF_SERVICE
        if self.suppressed:
            return AlarmState.SUPPRESSED
        if self.shelved:
            return AlarmState.SHELVED
        if self.active:
            return ACKED if self.acked else UNACK
        return N if self.acked else RTN


def unhide(s: Snap) -> Snap:
    """Leaving the last hiding sub-state: an active alarm needs acknowledging again."""
    if s.shelved or s.suppressed or s.oos:
        return s
    return replace(s, acked=not s.active)


def replay(s: Snap, event: Event, latch: bool) -> Snap:
    """The documented effect of one journaled event on the observable state."""
    match event:
        case Event.ACTIVATE:
            return replace(s, active=True, acked=False, latched=False)
        case Event.CLEAR:
            return replace(s, latched=True) if latch and s.active else replace(s, active=False)
        case Event.ACK:
            return replace(s, acked=True)
        case Event.RESET:
            return replace(s, active=False, latched=False)
        case Event.SHELVE:
            return replace(s, shelved=True)
        case Event.UNSHELVE:
            return unhide(replace(s, shelved=False))
        case Event.SUPPRESS:
            return replace(s, suppressed=True)
        case Event.UNSUPPRESS:
            return unhide(replace(s, suppressed=False))
        case Event.REMOVE_FROM_SERVICE:
            return replace(s, oos=True)
        case Event.RETURN_TO_SERVICE:
            return unhide(replace(s, oos=False))
    raise AssertionError(f"unexpected event {event}")


REQUESTED = {
    "ack": Event.ACK,
    "reset": Event.RESET,
    "shelve": Event.SHELVE,
    "unshelve": Event.UNSHELVE,
    "remove": Event.REMOVE_FROM_SERVICE,
    "restore": Event.RETURN_TO_SERVICE,
}
AUTOMATIC = {Event.ACTIVATE, Event.CLEAR, Event.UNSHELVE}  # what bringing an alarm to now may do
MAX_SHELVE = 60.0
steps = st.sampled_from([0.0, 1.0, 2.9, 3.0, 5.0, 10.0, 60.0, 600.0])  # sums hit shelf ends
shelve_times = st.sampled_from([0.0, 10.0, MAX_SHELVE, MAX_SHELVE + 1])
requests = st.one_of(
    st.sampled_from(["ack", "reset", "unshelve", "remove", "restore"]),
    st.tuples(st.just("shelve"), shelve_times, st.booleans()),
)


class AlarmMachine(RuleBasedStateMachine):
    """Random samples, requests and time against one alarm, checked against its own journal."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.alarm = make()
        self.raw = False
        self.raw_since = 0.0
        self.condition = False  # the shadow of the delayed condition
        self.one_shot = False  # the shadow of the shelf's kind
        self.value: float | None = None  # the last sample's value

    @initialize(
        on_delay=st.sampled_from([0.0, 3.0, 5.0]),
        off_delay=st.sampled_from([0.0, 3.0]),
        latch=st.booleans(),
    )
    def configure(self, on_delay: float, off_delay: float, latch: bool) -> None:
        self.alarm = make(on_delay=on_delay, off_delay=off_delay, latch=latch)

    def _call(self, name: str, call: Callable[[], Outcome]) -> Outcome:
        """Make one call at `now`; replay its journal over the state before, check the after."""
        before = Snap.of(self.alarm)
        out = call()
        delay = self.alarm.on_delay if self.raw else self.alarm.off_delay
        if self.raw != self.condition and self.now - self.raw_since >= delay:
            self.condition = self.raw
        snap = before
        for i, t in enumerate(out):
            assert (t.ts, t.alarm, t.tag, t.area) == (self.now, "HS1.TT101.hi", "HS1.TT101", "HS1")
            expected = replay(snap, t.event, self.alarm.latch)
            assert expected != snap, f"{t.event} changed nothing"
            assert t.state is expected.state, f"{t.event} journaled {t.state}"
            if t.event is Event.CLEAR and snap.shelved and self.one_shot:
                assert out[i + 1].event is Event.UNSHELVE, "one-shot shelf outlived a clear"
            if t.event is Event.UNSHELVE:
                self.one_shot = False
            snap = expected
        after = Snap.of(self.alarm)
        # Each transition was a real change and together they account for every change (a call
        # may change and change back, e.g. an off-delay falls due as the condition returns).
        assert snap == after, f"{name}: journal replays to {snap}, alarm is {after}"
        requested = REQUESTED.get(name)
        own = [t for t in out if t.event is requested]
        if out.refused:
            assert set(t.event for t in out) <= AUTOMATIC, f"{name} refused but journaled"
            assert all(t.user == "" for t in own), f"{name} refused but journaled"
        elif requested is not None:
            assert own and own[-1] is out[-1], f"{name} accepted without its transition"
        return out

    def _step(self, dt: float) -> None:
        self.now += dt
        self._call("tick", lambda: self.alarm.tick(self.now))

    @rule(in_alarm=st.booleans(), dt=steps, value=st.floats(0, 200))
    def sample(self, in_alarm: bool, dt: float, value: float) -> None:
        self.now += dt
        a, held = self.alarm, self.value
        due_before = self._settle_before_sample(in_alarm)
        out = self._call("update", lambda: a.update(in_alarm, self.now, value, limit=90.0))
        self.value = value
        changes = [t for t in out if t.event in (Event.ACTIVATE, Event.CLEAR)]
        for i, t in enumerate(changes):
            # what fell due before this sample is journaled with the value held until now
            assert (t.value, t.limit) == (held if i == 0 and due_before else value, 90.0)

    def _settle_before_sample(self, in_alarm: bool) -> bool:
        """The shadow of update(): settle what was due, take the new raw value; was it due?"""
        delay = self.alarm.on_delay if self.raw else self.alarm.off_delay
        due = self.raw != self.condition and self.now - self.raw_since >= delay
        if due:
            self.condition = self.raw
        if in_alarm != self.raw:
            self.raw, self.raw_since = in_alarm, self.now
        return due

    @rule(dt=steps)
    def time_passes(self, dt: float) -> None:
        self._step(dt)

    @rule(request=requests, tick_first=st.booleans())
    def operator(self, request: str | tuple[str, float, bool], tick_first: bool) -> None:
        """A person's request; with `tick_first` nothing else is due, so acceptance is known."""
        if tick_first:
            self._step(0.0)
        a, now = self.alarm, self.now
        if isinstance(request, tuple):
            name, duration, one_shot = request
            ok = not a.shelved and 0 < duration <= MAX_SHELVE
            out = self._call(
                name,
                lambda: a.shelve("op", "nuisance", now, duration, MAX_SHELVE, one_shot=one_shot),
            )
            if out.ok:
                self.one_shot = one_shot
        else:
            name = request
            ok = {
                "ack": not a.acked and not a.hidden,
                "reset": a.latched and a.acked and not a.hidden,
                "unshelve": a.shelved,
                "remove": not a.out_of_service,
                "restore": a.out_of_service,
            }[name]
            call = {
                "ack": lambda: a.ack("op", "seen", now),
                "reset": lambda: a.reset("op", now),
                "unshelve": lambda: a.unshelve("op", now),
                "remove": lambda: a.remove_from_service("tech", "maintenance", now),
                "restore": lambda: a.return_to_service("tech", now),
            }[name]
            out = self._call(name, call)
        if tick_first:
            assert out.ok is ok, f"{name}: {out.refused or 'accepted'}"
        else:
            assert out.ok or out.refused

    @rule(active=st.booleans())
    def suppress(self, active: bool) -> None:
        assert self._call("suppress", lambda: self.alarm.suppress(active, self.now)).ok

    @invariant()
    def delays_hold(self) -> None:
        """The alarm's delayed condition is the shadow's: on/off delays held continuously."""
        assert self.alarm.condition is self.condition

    @invariant()
    def valid_combination(self) -> None:
        """Flags and state agree; latched only when latching, active and the condition clear."""
        a = self.alarm
        assert a.state is Snap.of(a).state
        if a.latch:
            assert a.latched == (a.active and not a.condition)
        else:
            assert not a.latched and a.active == a.condition
        if a.condition:
            assert a.active

    @invariant()
    def never_shelved_beyond_the_maximum(self) -> None:
        """A shelf ends before its time runs out, and its time is at most the maximum."""
        shelf = self.alarm.shelf
        if shelf is not None:
            assert shelf.since <= self.now < shelf.until <= shelf.since + MAX_SHELVE
            assert shelf.one_shot is self.one_shot


AlarmMachine.TestCase.settings = settings(
    max_examples=250, stateful_step_count=40, deadline=None, database=None
)
test_alarm_state_machine = AlarmMachine.TestCase

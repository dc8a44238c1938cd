"""Condition evaluators: limits with deadband hysteresis, deviation, rate, digital, bad quality."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hmi.alarms.conditions import Condition, ConditionDef
from hmi.alarms.model import AlarmKind
from hmi.tags import Quality

GOOD, BAD, UNCERTAIN = Quality.GOOD, Quality.BAD, Quality.UNCERTAIN
FAST = settings(max_examples=150, deadline=None)


def feed(cond: Condition, values: list[float], quality: Quality = GOOD) -> list[bool]:
    """Feed values one second apart; the in-alarm answer after each."""
    return [cond.evaluate(v, quality, float(i)) for i, v in enumerate(values)]


def test_hi_enters_above_the_limit_and_returns_below_limit_minus_deadband() -> None:
    cond = Condition(ConditionDef(kind=AlarmKind.HI, limit=90.0, deadband=1.0))
    assert feed(cond, [85, 90, 90.1, 89.5, 89.0, 88.99, 89.5, 90.0]) == [
        False,
        False,  # at the limit is not beyond it
        True,
        True,  # inside the deadband: holds
        True,  # at limit - deadband: still holds
        False,
        False,
        False,
    ]
    assert cond.measured == 90.0
    assert cond.limit == 90.0


def test_hihi_behaves_as_hi() -> None:
    cond = Condition(ConditionDef(kind=AlarmKind.HIHI, limit=95.0, deadband=2.0))
    assert feed(cond, [96, 94, 92.9]) == [True, True, False]


@pytest.mark.parametrize("kind", [AlarmKind.LO, AlarmKind.LOLO])
def test_lo_mirrors_hi(kind: AlarmKind) -> None:
    cond = Condition(ConditionDef(kind=kind, limit=2.0, deadband=0.5))
    assert feed(cond, [3, 2, 1.9, 2.4, 2.5, 2.51, 2.2]) == [
        False,
        False,
        True,
        True,
        True,
        False,
        False,
    ]


def test_deviation_compares_the_distance_from_the_setpoint() -> None:
    cond = Condition(ConditionDef(kind=AlarmKind.DEVIATION, limit=5.0, deadband=1.0))
    assert not cond.evaluate(72.0, GOOD, 0.0, setpoint=70.0)
    assert cond.evaluate(64.0, GOOD, 1.0, setpoint=70.0)  # 6 below
    assert cond.measured == 6.0
    assert cond.evaluate(74.5, GOOD, 2.0, setpoint=70.0)  # 4.5 above: inside the deadband
    assert cond.evaluate(80.0, GOOD, 3.0, setpoint=None)  # setpoint unknown: holds
    assert not cond.evaluate(73.9, GOOD, 4.0, setpoint=70.0)
    assert cond.evaluate(80.0, GOOD, 5.0, setpoint=70.0)
    assert cond.evaluate(70.0, GOOD, 6.0, setpoint=math.nan)  # a NaN setpoint is no setpoint


def test_rate_over_consecutive_samples() -> None:
    cond = Condition(ConditionDef(kind=AlarmKind.RATE, limit=2.0, deadband=0.5))
    assert not cond.evaluate(10.0, GOOD, 0.0)  # no rate from one sample
    assert cond.measured is None
    assert not cond.evaluate(13.0, GOOD, 2.0)  # 1.5 /s
    assert cond.evaluate(8.0, GOOD, 4.0)  # 2.5 /s falling: magnitude counts
    assert cond.measured == 2.5
    assert cond.evaluate(11.4, GOOD, 6.0)  # 1.7 /s: inside the deadband
    assert cond.evaluate(99.0, GOOD, 6.0)  # not newer than the last sample: ignored
    assert not cond.evaluate(14.0, GOOD, 8.0)  # 1.3 /s
    assert cond.measured == pytest.approx(1.3)


def test_rate_chain_breaks_at_a_bad_sample() -> None:
    cond = Condition(ConditionDef(kind=AlarmKind.RATE, limit=1.0))
    cond.evaluate(0.0, GOOD, 0.0)
    assert not cond.evaluate(None, BAD, 1.0)
    assert not cond.evaluate(50.0, GOOD, 2.0)  # no baseline after the bad sample
    assert cond.evaluate(60.0, GOOD, 3.0)


@pytest.mark.parametrize(("alarm_state", "alarming"), [(True, True), (False, False)])
def test_digital(alarm_state: bool, alarming: bool) -> None:
    cond = Condition(ConditionDef(kind=AlarmKind.DIGITAL, alarm_state=alarm_state))
    assert cond.evaluate(True, GOOD, 0.0) is alarming
    assert cond.evaluate(0, GOOD, 1.0) is not alarming
    assert cond.evaluate("open", GOOD, 2.0) is not alarming  # not a state: holds
    assert cond.limit is None


def test_bad_quality_alarm_follows_bad_quality_only() -> None:
    cond = Condition(ConditionDef(kind=AlarmKind.BAD_QUALITY))
    assert cond.evaluate(None, BAD, 0.0)
    assert not cond.evaluate(3.0, UNCERTAIN, 1.0)
    assert not cond.evaluate(3.0, GOOD, 2.0)
    assert cond.limit is None


@pytest.mark.parametrize(
    "kind", [AlarmKind.HI, AlarmKind.LO, AlarmKind.DEVIATION, AlarmKind.RATE, AlarmKind.DIGITAL]
)
@pytest.mark.parametrize(
    ("value", "quality"),
    [(None, BAD), (1e9, BAD), (-1e9, UNCERTAIN), (math.nan, GOOD), ("x", GOOD)],
)
def test_a_value_that_is_not_a_good_number_keeps_the_last_state(
    kind: AlarmKind, value: object, quality: Quality
) -> None:
    for start in (1e6, 0.0, -1e6):
        cond = Condition(ConditionDef(kind=kind, limit=10.0))
        cond.evaluate(0.0, GOOD, 0.0, setpoint=0.0)
        before = cond.evaluate(start, GOOD, 1.0, setpoint=0.0)
        assert cond.evaluate(value, quality, 2.0, setpoint=0.0) is before


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": AlarmKind.OFFLINE}, "no evaluator"),
        ({"kind": AlarmKind.HI, "limit": math.inf}, "finite"),
        ({"kind": AlarmKind.HI, "deadband": -1.0}, "deadband"),
        ({"kind": AlarmKind.RATE, "limit": -1.0}, "zero or above"),
        ({"kind": AlarmKind.DEVIATION, "limit": 1.0, "deadband": 2.0}, "never return"),
    ],
)
def test_inconsistent_definitions_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ConditionDef(**fields)  # type: ignore[arg-type]


# -- properties ----------------------------------------------------------------------------------

samples = st.lists(
    st.one_of(
        st.tuples(st.floats(-200, 200), st.just(GOOD)),
        st.tuples(st.one_of(st.none(), st.floats(-200, 200)), st.sampled_from([BAD, UNCERTAIN])),
    ),
    max_size=60,
)


@FAST
@given(
    kind=st.sampled_from([AlarmKind.HI, AlarmKind.HIHI, AlarmKind.LO, AlarmKind.LOLO]),
    limit=st.floats(-100, 100),
    deadband=st.floats(0, 20),
    seq=samples,
)
def test_limit_hysteresis_property(
    kind: AlarmKind, limit: float, deadband: float, seq: list[tuple[float | None, Quality]]
) -> None:
    """Beyond the limit: in alarm; back past the deadband: normal; otherwise the last state."""
    cond = Condition(ConditionDef(kind=kind, limit=limit, deadband=deadband))
    high = kind in (AlarmKind.HI, AlarmKind.HIHI)
    previous = False
    for ts, (value, quality) in enumerate(seq):
        now = cond.evaluate(value, quality, float(ts))
        # the rule as written (limit - deadband is one rounded number, as a person reads it)
        if quality is not GOOD or value is None:
            assert now is previous
        elif (value > limit) if high else (value < limit):
            assert now
        elif (value < limit - deadband) if high else (value > limit + deadband):
            assert not now
        else:
            assert now is previous
        previous = now


@FAST
@given(
    limit=st.floats(0.1, 10),
    values=st.lists(st.floats(-100, 100), min_size=2, max_size=40),
    steps=st.lists(st.floats(0.1, 10), min_size=40, max_size=40),
)
def test_rate_property(limit: float, values: list[float], steps: list[float]) -> None:
    """Whenever two consecutive good samples change faster than the limit, the rate alarm is on."""
    cond = Condition(ConditionDef(kind=AlarmKind.RATE, limit=limit, deadband=limit / 2))
    ts = 0.0
    cond.evaluate(values[0], GOOD, ts)
    for value, step, previous in zip(values[1:], steps, values, strict=False):
        ts += step
        if cond.evaluate(value, GOOD, ts) is False:
            assert abs(value - previous) / step <= limit


def test_a_signal_hovering_at_the_limit_enters_once_and_stays() -> None:
    """±0.3 around 90 with deadband 1: the raw comparison chatters, the condition does not."""
    rng = random.Random(7)
    cond = Condition(ConditionDef(kind=AlarmKind.HI, limit=90.0, deadband=1.0))
    answers = [cond.evaluate(90.0 + rng.uniform(-0.3, 0.3), GOOD, t) for t in range(3600)]
    first = answers.index(True)
    assert first < 10
    assert all(answers[first:])  # never returns: 89.7 is not below 90 - 1

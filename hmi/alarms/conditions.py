"""Condition evaluators: is one alarm's raw condition in alarm, given the latest sample?

Owns the value side of an alarm: limits with deadband hysteresis (HI/HIHI/LO/LOLO), deviation
from a setpoint, rate of change, digital state and bad quality. Each evaluator is stateful (it
remembers whether it is in alarm, and for RATE the previous sample) and pure: no clock, no I/O,
no journal. Time-based filtering (on-delay, off-delay), acknowledgement, latching and shelving
belong to `hmi.alarms.state`; the engine feeds this module's answer into `Alarm.update`.

Rules every limit condition follows:
- Hysteresis: it becomes active beyond the limit and returns only once the value is back past
  the limit by more than the deadband; in between it keeps its last state.
- A value that is not a good, finite number (bad or uncertain quality, None, NaN, text) keeps
  the last state: a bad value is not a number, and the BAD_QUALITY alarm speaks for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hmi.alarms.model import AlarmKind
from hmi.tags import Quality

__all__ = ["SUPPORTED_KINDS", "Condition", "ConditionDef"]

_INF = math.inf
_HIGH_KINDS = frozenset({AlarmKind.HI, AlarmKind.HIHI})
_LOW_KINDS = frozenset({AlarmKind.LO, AlarmKind.LOLO})
_MAGNITUDE_KINDS = frozenset({AlarmKind.DEVIATION, AlarmKind.RATE})  # compare |x| with limit
_LIMIT_KINDS = _HIGH_KINDS | _LOW_KINDS | _MAGNITUDE_KINDS

SUPPORTED_KINDS: frozenset[AlarmKind] = _LIMIT_KINDS | {AlarmKind.DIGITAL, AlarmKind.BAD_QUALITY}
"""The kinds this module evaluates; the others (offline, frozen, leak...) have their own sources."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ConditionDef:
    """What one alarm condition watches: its kind, limit, deadband, and alarm state if digital.

    `limit` is in the tag's units (units per second for RATE; the allowed |value - setpoint| for
    DEVIATION). `deadband` is how far back past the limit the value must go to return to normal.
    `alarm_state` is the state a DIGITAL signal alarms in. Raises ValueError when inconsistent.
    """

    kind: AlarmKind
    limit: float = 0.0
    deadband: float = 0.0
    alarm_state: bool = True

    def __post_init__(self) -> None:
        """Refuse definitions that could never evaluate sensibly."""
        if self.kind not in SUPPORTED_KINDS:
            supported = ", ".join(sorted(k.value for k in SUPPORTED_KINDS))
            raise ValueError(f"alarm kind {self.kind.value!r} has no evaluator here ({supported})")
        if not math.isfinite(self.limit):
            raise ValueError(f"limit {self.limit!r} must be a finite number")
        if not math.isfinite(self.deadband) or self.deadband < 0:
            raise ValueError(f"deadband {self.deadband!r} must be zero or above")
        if self.kind in _MAGNITUDE_KINDS:
            if self.limit < 0:
                raise ValueError(f"{self.kind.value} limit {self.limit} must be zero or above")
            if self.deadband > self.limit:
                raise ValueError(
                    f"{self.kind.value} deadband {self.deadband} exceeds the limit {self.limit}: "
                    "the alarm could never return to normal"
                )


def _number(value: object) -> float | None:
    """The value as a finite float, or None when it is not a usable number."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


class Condition:
    """One alarm's stateful condition evaluator (hysteresis, rate baseline); no clock of its own."""

    def __init__(self, definition: ConditionDef) -> None:
        """Start out of alarm, with no previous sample."""
        self.definition = definition
        self._in_alarm = False
        self._measured: float | None = None
        self._previous: tuple[float, float] | None = None  # RATE: (value, ts) of the last sample
        # hi/hihi/lo/lolo on a good float: the common case, evaluated without the general path
        self._high = definition.kind in _HIGH_KINDS
        self._plain = self._high or definition.kind in _LOW_KINDS
        self._limit, self._deadband = definition.limit, definition.deadband

    def carry_over(self, old: Condition) -> None:
        """Continue from `old`'s state (in alarm, last measured, rate baseline) after an edit."""
        self._in_alarm, self._measured, self._previous = old._in_alarm, old._measured, old._previous

    @property
    def in_alarm(self) -> bool:
        """True while the raw condition is in alarm (before on/off delays)."""
        return self._in_alarm

    @property
    def measured(self) -> float | None:
        """What was last compared with the limit (value, |deviation| or |rate|); None if nothing."""
        return self._measured

    @property
    def limit(self) -> float | None:
        """The limit to journal with a transition (None for digital and bad-quality alarms)."""
        return self.definition.limit if self.definition.kind in _LIMIT_KINDS else None

    def evaluate(
        self, value: object, quality: Quality, ts: float, setpoint: float | None = None
    ) -> bool:
        """Take one sample (and, for DEVIATION, the setpoint or None if unknown); in alarm now?"""
        if (
            self._plain
            and quality is Quality.GOOD
            and type(value) is float
            and -_INF < value < _INF
        ):
            self._measured = value  # the same hysteresis as `_beyond`, inlined
            limit = self._limit
            if self._high:
                alarm = value > limit or (self._in_alarm and value >= limit - self._deadband)
            else:
                alarm = value < limit or (self._in_alarm and value <= limit + self._deadband)
            self._in_alarm = alarm
            return alarm
        kind = self.definition.kind
        if kind is AlarmKind.BAD_QUALITY:
            self._in_alarm = quality is Quality.BAD
            return self._in_alarm
        number = _number(value) if quality is Quality.GOOD else None
        if kind is AlarmKind.DIGITAL:
            if number is not None:
                self._measured = number
                self._in_alarm = bool(number) == self.definition.alarm_state
            return self._in_alarm
        measured = self._measure(number, ts, setpoint)
        if measured is not None:
            self._measured = measured
            self._in_alarm = self._beyond(measured)
        return self._in_alarm

    def _measure(self, number: float | None, ts: float, setpoint: float | None) -> float | None:
        """The quantity to compare with the limit, or None to keep the last state."""
        kind = self.definition.kind
        if kind is AlarmKind.RATE:
            return self._rate(number, ts)
        if number is None:
            return None
        if kind is AlarmKind.DEVIATION:
            sp = _number(setpoint)
            return None if sp is None else abs(number - sp)
        return number

    def _rate(self, number: float | None, ts: float) -> float | None:
        """|Δvalue/Δt| against the previous good sample; a bad sample breaks the chain."""
        if number is None:
            self._previous = None
            return None
        previous = self._previous
        if previous is not None and ts <= previous[1]:
            return None  # not newer than the baseline: nothing to learn from it
        self._previous = (number, ts)
        if previous is None:
            return None
        return abs(number - previous[0]) / (ts - previous[1])

    def _beyond(self, measured: float) -> bool:
        """Hysteresis: enter beyond the limit, leave only past the limit by the deadband."""
        limit, deadband = self.definition.limit, self.definition.deadband
        if self.definition.kind in _LOW_KINDS:
            if measured < limit:
                return True
            return self._in_alarm and measured <= limit + deadband
        if measured > limit:
            return True
        return self._in_alarm and measured >= limit - deadband

"""Alarm KPIs (ISA-18.2 / EEMUA 191 style) over journal transitions: pure functions, no I/O.

Every function takes transitions (any order; ties keep their given order, as the journal
returns them) and a window [start, end) in epoch seconds. An *activation* is a transition with
event ACTIVATE; counts are of activations with start <= ts < end. Transitions at or after `end`
are ignored everywhere, so a KPI describes the plant as known at `end`. Two KPIs look back
before `start` and need those transitions passed in: floods (up to 10 minutes, so a flood that
began before the window is seen from the window's start) and stale alarms (the activation of
an alarm still active, possibly days ago). Query the journal from `start - 24 h` to be safe.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from hmi.alarms.model import Event, Priority, Transition

__all__ = [
    "AlarmKpis",
    "AreaRate",
    "BadActor",
    "ChatteringAlarm",
    "FloodReport",
    "PriorityShare",
    "ResponseRecord",
    "ResponseTimes",
    "StaleAlarm",
    "WorkflowDurations",
    "alarm_rates",
    "bad_actors",
    "chattering",
    "compute",
    "floods",
    "priority_distribution",
    "response_times",
    "stale",
    "workflow_durations",
]

RATE_BUCKET = 600.0  # alarm rates are counted per 10 minutes
FLOOD_COUNT = 10  # a flood: at least this many activations ...
FLOOD_WINDOW = 600.0  # ... within this many seconds
CHATTER_COUNT = 3  # chattering: at least this many activations of one alarm ...
CHATTER_WINDOW = 60.0  # ... within this many seconds
STALE_AFTER = 86_400.0  # stale: active longer than a day


@dataclass(frozen=True, slots=True)
class AreaRate:
    """Activations of one area per 10-minute bucket of the window."""

    area: str
    buckets: tuple[int, ...]  # bucket i counts [start + i*600, start + (i+1)*600), last clipped
    total: int
    mean: float  # activations per 10 minutes over the whole window
    peak: int  # the busiest bucket


@dataclass(frozen=True, slots=True)
class FloodReport:
    """When the plant was in alarm flood, and for how much of the window."""

    periods: tuple[tuple[float, float], ...]  # merged [start, end) intervals, clipped to the window
    seconds: float
    percent: float  # of the window's length


@dataclass(frozen=True, slots=True)
class BadActor:
    """One of the most frequent alarms."""

    alarm: str
    area: str
    tag: str
    priority: Priority
    activations: int
    percent: float  # of all activations in the window


@dataclass(frozen=True, slots=True)
class ChatteringAlarm:
    """An alarm activated at least 3 times within 60 s."""

    alarm: str
    area: str
    tag: str
    activations: int  # in the window
    most_in_60s: int  # the most activations in any 60 s
    first_burst: float  # time of the first activation that starts a chattering burst


@dataclass(frozen=True, slots=True)
class StaleAlarm:
    """An alarm active for longer than 24 h at the end of the window."""

    alarm: str
    area: str
    tag: str
    priority: Priority
    active_since: float
    active_for: float  # seconds, at the window's end


@dataclass(frozen=True, slots=True)
class PriorityShare:
    """Activations of one priority and their share of all activations."""

    priority: Priority
    activations: int
    percent: float


@dataclass(frozen=True, slots=True)
class ResponseTimes:
    """How fast the window's activations were acknowledged and cleared."""

    activations: int
    acked: int
    mean_to_ack: float | None  # seconds, over the acknowledged ones; None if none were
    cleared: int
    mean_to_clear: float | None


@dataclass(frozen=True, slots=True)
class WorkflowDurations:
    """Mean durations of the response workflow's steps over the window's occurrences."""

    occurrences: int
    dispatched: int
    mean_ack_to_dispatch: float | None
    with_cause: int
    mean_dispatch_to_cause: float | None
    closed: int
    mean_activation_to_closed: float | None


class ResponseRecord(Protocol):
    """What the workflow KPIs read of a response record (`hmi.alarms.response.AlarmResponse`)."""

    @property
    def activated_ts(self) -> float: ...
    @property
    def acked_ts(self) -> float | None: ...
    @property
    def dispatched_ts(self) -> float | None: ...
    @property
    def cause_ts(self) -> float | None: ...
    @property
    def closed_ts(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class AlarmKpis:
    """Every KPI of one window."""

    start: float
    end: float
    activations: int
    rates: list[AreaRate]
    flood: FloodReport
    bad_actors: list[BadActor]
    chattering: list[ChatteringAlarm]
    stale: list[StaleAlarm]
    priorities: list[PriorityShare]
    response: ResponseTimes
    workflow: WorkflowDurations


def _before_end(transitions: Iterable[Transition], end: float) -> list[Transition]:
    """Transitions before `end`, in time order (stable: ties keep their order)."""
    return sorted((t for t in transitions if t.ts < end), key=lambda t: t.ts)


def _activations(transitions: Iterable[Transition], start: float, end: float) -> list[Transition]:
    return [t for t in _before_end(transitions, end) if t.event is Event.ACTIVATE and t.ts >= start]


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def alarm_rates(
    transitions: Iterable[Transition], start: float, end: float, bucket: float = RATE_BUCKET
) -> list[AreaRate]:
    """Activations per area per `bucket` seconds (buckets aligned to `start`), by area."""
    n = max(1, int(-(-(end - start) // bucket)))  # ceil; a window shorter than a bucket has one
    counts: dict[str, list[int]] = defaultdict(lambda: [0] * n)
    for t in _activations(transitions, start, end):
        counts[t.area][int((t.ts - start) // bucket)] += 1
    tens = (end - start) / RATE_BUCKET
    return [
        AreaRate(area, tuple(c), sum(c), sum(c) / tens if tens > 0 else 0.0, max(c))
        for area, c in sorted(counts.items())
    ]


def floods(
    transitions: Iterable[Transition],
    start: float,
    end: float,
    *,
    count: int = FLOOD_COUNT,
    window: float = FLOOD_WINDOW,
) -> FloodReport:
    """Alarm flood periods: times t with at least `count` activations in (t - window, t].

    With the activations a_0 <= a_1 <= ... (all areas, before `end`, including those before
    `start`), every run of `count` consecutive ones a_j .. a_{j+count-1} spanning less than
    `window` seconds puts [a_{j+count-1}, a_j + window) in flood: the flood starts at the 10th
    activation within 10 minutes and ends when the oldest of the last 10 is 10 minutes old, so
    the trailing 10-minute count has dropped below 10. Overlapping or touching intervals are
    merged, then clipped to [start, end); `percent` is their length over the window's.
    """
    acts = [t.ts for t in _before_end(transitions, end) if t.event is Event.ACTIVATE]
    merged: list[list[float]] = []
    for j in range(len(acts) - count + 1):
        lo, hi = acts[j + count - 1], acts[j] + window
        if lo >= hi:
            continue
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    periods = tuple(
        (max(lo, start), min(hi, end)) for lo, hi in merged if min(hi, end) > max(lo, start)
    )
    seconds = sum(hi - lo for lo, hi in periods)
    length = end - start
    return FloodReport(periods, seconds, 100.0 * seconds / length if length > 0 else 0.0)


def bad_actors(
    transitions: Iterable[Transition], start: float, end: float, n: int = 10
) -> list[BadActor]:
    """The `n` alarms with the most activations (ties by alarm id), with their share."""
    acts = _activations(transitions, start, end)
    counts = Counter(t.alarm for t in acts)
    last = {t.alarm: t for t in acts}  # area, tag and priority as last activated
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return [
        BadActor(
            alarm,
            last[alarm].area,
            last[alarm].tag,
            last[alarm].priority,
            c,
            100.0 * c / len(acts),
        )
        for alarm, c in ranked
    ]


def chattering(
    transitions: Iterable[Transition],
    start: float,
    end: float,
    *,
    count: int = CHATTER_COUNT,
    window: float = CHATTER_WINDOW,
) -> list[ChatteringAlarm]:
    """Alarms with at least `count` activations in the window within less than `window` s.

    Precisely: an alarm chatters when, among its activations a_0 <= a_1 <= ... in [start, end),
    some a_{i+count-1} - a_i < window (three activations inside one half-open 60 s interval).
    `most_in_60s` is the most activations in any [a_i, a_i + window). Busiest first.
    """
    by_alarm: dict[str, list[Transition]] = defaultdict(list)
    for t in _activations(transitions, start, end):
        by_alarm[t.alarm].append(t)
    found = []
    for alarm, acts in by_alarm.items():
        ts = [t.ts for t in acts]
        most = max(bisect.bisect_left(ts, a + window) - i for i, a in enumerate(ts))
        if most < count:
            continue
        first = next(
            ts[i] for i in range(len(ts) - count + 1) if ts[i + count - 1] - ts[i] < window
        )
        found.append(ChatteringAlarm(alarm, acts[-1].area, acts[-1].tag, len(ts), most, first))
    return sorted(found, key=lambda c: (-c.most_in_60s, -c.activations, c.alarm))


def stale(
    transitions: Iterable[Transition], end: float, *, after: float = STALE_AFTER
) -> list[StaleAlarm]:
    """Alarms whose condition has been active for more than `after` seconds at `end`.

    An alarm becomes active at an ACTIVATE and inactive at a CLEAR or a RESET; shelving,
    suppression and removal from service hide it but do not change its condition. Oldest first.
    """
    active: dict[str, Transition] = {}
    for t in _before_end(transitions, end):
        if t.event is Event.ACTIVATE:
            active.setdefault(t.alarm, t)
        elif t.event in (Event.CLEAR, Event.RESET):
            active.pop(t.alarm, None)
    return sorted(
        (
            StaleAlarm(t.alarm, t.area, t.tag, t.priority, t.ts, end - t.ts)
            for t in active.values()
            if end - t.ts > after
        ),
        key=lambda s: (s.active_since, s.alarm),
    )


def priority_distribution(
    transitions: Iterable[Transition], start: float, end: float
) -> list[PriorityShare]:
    """Activations per priority (every priority listed, lowest first) and their percentage."""
    counts = Counter(t.priority for t in _activations(transitions, start, end))
    total = sum(counts.values())
    return [
        PriorityShare(p, counts[p], 100.0 * counts[p] / total if total else 0.0) for p in Priority
    ]


def response_times(transitions: Iterable[Transition], start: float, end: float) -> ResponseTimes:
    """Mean time from activation to acknowledgement and to clear, over the window's activations.

    An occurrence runs from an activation to the alarm's next activation; its ack (clear) is
    the first ACK (CLEAR) in it before `end`. Occurrences not acked (cleared) by `end` count in
    `activations` but not in the mean.
    """
    to_ack: list[float] = []
    to_clear: list[float] = []
    current: dict[str, list[float | None]] = {}  # alarm -> [activation ts, ack ts, clear ts]
    occurrences: list[list[float | None]] = []
    for t in _before_end(transitions, end):
        if t.event is Event.ACTIVATE:
            occ: list[float | None] = [t.ts, None, None]
            current[t.alarm] = occ
            if t.ts >= start:
                occurrences.append(occ)
        elif (occ_now := current.get(t.alarm)) is not None:
            slot = 1 if t.event is Event.ACK else 2 if t.event is Event.CLEAR else 0
            if slot and occ_now[slot] is None:
                occ_now[slot] = t.ts
    for act, ack, clear in occurrences:
        assert act is not None
        if ack is not None:
            to_ack.append(ack - act)
        if clear is not None:
            to_clear.append(clear - act)
    return ResponseTimes(
        len(occurrences), len(to_ack), _mean(to_ack), len(to_clear), _mean(to_clear)
    )


def workflow_durations(
    responses: Iterable[ResponseRecord], start: float, end: float
) -> WorkflowDurations:
    """Mean ack -> dispatch, dispatch -> cause and activation -> closed, over occurrences
    activated in [start, end); a step counts once done before `end`."""

    def done(ts: float | None) -> float | None:
        return ts if ts is not None and ts < end else None

    rows = [r for r in responses if start <= r.activated_ts < end]
    dispatch: list[float] = []
    cause: list[float] = []
    closed: list[float] = []
    for r in rows:
        acked, sent, found, shut = (
            done(r.acked_ts),
            done(r.dispatched_ts),
            done(r.cause_ts),
            done(r.closed_ts),
        )
        if acked is not None and sent is not None:
            dispatch.append(sent - acked)
        if sent is not None and found is not None:
            cause.append(found - sent)
        if shut is not None:
            closed.append(shut - r.activated_ts)
    return WorkflowDurations(
        len(rows),
        len(dispatch),
        _mean(dispatch),
        len(cause),
        _mean(cause),
        len(closed),
        _mean(closed),
    )


def compute(
    transitions: Iterable[Transition],
    start: float,
    end: float,
    responses: Iterable[ResponseRecord] = (),
) -> AlarmKpis:
    """Every KPI of the window [start, end) with the default thresholds."""
    ts = _before_end(transitions, end)
    return AlarmKpis(
        start=start,
        end=end,
        activations=len(_activations(ts, start, end)),
        rates=alarm_rates(ts, start, end),
        flood=floods(ts, start, end),
        bad_actors=bad_actors(ts, start, end),
        chattering=chattering(ts, start, end),
        stale=stale(ts, end),
        priorities=priority_distribution(ts, start, end),
        response=response_times(ts, start, end),
        workflow=workflow_durations(responses, start, end),
    )

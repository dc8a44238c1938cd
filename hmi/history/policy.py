"""Which changes of history tags are recorded: deadband, minimum interval, heartbeat.

Per tag (see `hmi.history_config`): a change is recorded when its quality or reason changes
(at once, always), or when its value moved beyond the history deadband since the last recorded
value and at least `min_interval` has passed since then. Changes closer than `min_interval`
are merged, not lost: `due` records the newest of them once the interval has passed. When nothing
was recorded for `max_interval`, `due` records the tag's current value stamped with the time
of the heartbeat, so a trend or a report can tell "steady" from "not recorded".

The runtime applies the tag's own deadband before history sees a change, so a history
deadband smaller than that has no effect. Interval decisions use the caller's clock (`now`),
not the devices' source timestamps. Thread-safe: `admit` runs on the runtime thread, `due` on
the historian's.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from hmi.tags import DataType, TagDef, Value

__all__ = ["RecordingPolicy"]

Change = tuple[str, Value]


@dataclass(slots=True)
class _State:
    """One tag's rule and what was last recorded of it."""

    deadband: float
    min_interval: float
    max_interval: float
    recorded: Value | None = None  # the last recorded value
    recorded_at: float = 0.0  # when (caller's clock)
    current: Value | None = None  # the newest value seen
    held: Value | None = None  # a change waiting for min_interval


class RecordingPolicy:
    """Filters a runtime's change batches down to the samples worth recording."""

    def __init__(self, tags: Mapping[str, TagDef], default_max_interval: float) -> None:
        self._states = {
            name: _State(
                deadband=tag.deadband if tag.history_deadband is None else tag.history_deadband,
                min_interval=tag.history_min_interval,
                max_interval=tag.history_max_interval or default_max_interval,
            )
            for name, tag in tags.items()
            if tag.history and tag.type is not DataType.STRING
        }
        self._lock = threading.Lock()

    def __contains__(self, name: object) -> bool:
        return name in self._states

    def admit(self, batch: list[Change], now: float) -> list[Change]:
        """The changes of `batch` to record now (the rest are dropped or held back)."""
        out: list[Change] = []
        states = self._states
        with self._lock:
            for name, value in batch:
                state = states.get(name)
                if state is None:
                    continue
                state.current = value
                last = state.recorded
                if last is None or last.quality != value.quality or last.reason != value.reason:
                    out.append(self._record(state, name, value, now))
                elif state.held is not None:
                    state.held = value  # merged: the newest is recorded when the interval ends
                elif _moved(last, value, state.deadband):
                    if now - state.recorded_at >= state.min_interval:
                        out.append(self._record(state, name, value, now))
                    else:
                        state.held = value
        return out

    def due(self, now: float) -> list[Change]:
        """Held-back changes whose minimum interval has passed, and heartbeats that are due."""
        out: list[Change] = []
        with self._lock:
            for name, state in self._states.items():
                waited = now - state.recorded_at
                if state.held is not None and waited >= state.min_interval:
                    out.append(self._record(state, name, state.held, now))
                elif state.recorded is not None and waited >= state.max_interval:
                    current = state.current or state.recorded
                    beat = dataclasses.replace(current, source_ts=now, recv_ts=now)
                    out.append(self._record(state, name, beat, now))
        return out

    @staticmethod
    def _record(state: _State, name: str, value: Value, now: float) -> Change:
        state.recorded = value
        state.recorded_at = now
        state.held = None
        return (name, value)


def _moved(last: Value, new: Value, deadband: float) -> bool:
    """True when `new` differs from `last` by more than `deadband` (any change for non-numbers)."""
    a, b = last.value, new.value
    numbers = _is_number(a) and _is_number(b)
    if deadband > 0 and numbers:
        return bool(abs(b - a) > deadband)
    return bool(a != b)


def _is_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)

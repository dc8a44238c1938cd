"""What a diagram shows for a value: the read-out text, a symbol's state, an alarm's priority.

Plain functions over `Value`, `TagDef` and `AlarmView`, so the rules are tested without drawing:
bad quality is never a number ("BAD" and the reason), uncertain values are marked, a bool state
tag is running/open or stopped/closed, a 0-100 % position above 1 % is open, a true fault tag is
a fault, and only alarms an operator must see (not normal, not shelved, suppressed or out of
service) colour a symbol.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from hmi.client import AlarmState, AlarmView
from hmi.tags import Quality, TagDef, Value
from screens.i18n import tr
from screens.widgets.symbols import SymbolState
from screens.widgets.values import number_text, reason_text

__all__ = [
    "OPEN_ABOVE",
    "SHOWN_ALARMS",
    "UNACKED",
    "Kind",
    "Reading",
    "alarm_level",
    "reading",
    "symbol_state",
]

OPEN_ABOVE = 1.0  # percent: a position above this is open
VALVES = frozenset({"valve", "control_valve", "pressure_regulator"})
SHOWN_ALARMS = frozenset({AlarmState.UNACK, AlarmState.ACKED, AlarmState.RTN_UNACK})
UNACKED = frozenset({AlarmState.UNACK, AlarmState.RTN_UNACK})


class Kind(StrEnum):
    """How trustworthy a shown value is."""

    GOOD = "good"
    UNCERTAIN = "uncertain"
    BAD = "bad"


@dataclass(frozen=True, slots=True)
class Reading:
    """A read-out's text ("72.4 °C" or "BAD") and how it is drawn."""

    text: str
    kind: Kind
    reason: str = ""  # why it is not good, for the tooltip


def reading(tag: TagDef, value: Value) -> Reading:
    """What a read-out of `tag` shows for `value` (bad quality: "BAD", never a number)."""
    if value.quality is Quality.BAD or value.value is None:
        return Reading(tr("BAD"), Kind.BAD, reason_text(value.reason))
    text = number_text(tag, value.value, unit=True)
    if value.quality is Quality.UNCERTAIN:
        return Reading(f"{text} ?", Kind.UNCERTAIN, reason_text(value.reason))
    return Reading(text, Kind.GOOD)


def _active(value: object) -> bool:
    if isinstance(value, bool):
        return value
    try:
        return float(value) > OPEN_ABOVE  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def symbol_state(symbol: str, state: Value | None, fault: Value | None) -> SymbolState:
    """A symbol's state from its state and fault tags (None: the symbol has no such tag)."""
    if fault is not None and fault.good and bool(fault.value):
        return SymbolState.FAULT
    if (state is not None and (not state.good or state.value is None)) or (
        fault is not None and not fault.good
    ):
        return SymbolState.BAD_QUALITY
    if state is None:
        return SymbolState.NORMAL
    active = _active(state.value)
    if symbol in VALVES or not isinstance(state.value, bool):
        return SymbolState.OPEN if active else SymbolState.CLOSED
    return SymbolState.RUNNING if active else SymbolState.STOPPED


def alarm_level(alarms: Iterable[AlarmView]) -> tuple[int | None, bool]:
    """The theme level (1 = most urgent) of the most urgent shown alarm, and whether any alarm
    at that level is unacknowledged; (None, False) when none is shown."""
    best: int | None = None
    unacked = False
    for view in alarms:
        if view.state not in SHOWN_ALARMS:
            continue
        level = 5 - int(view.priority)
        if best is None or level < best:
            best, unacked = level, view.state in UNACKED
        elif level == best:
            unacked = unacked or view.state in UNACKED
    return best, unacked

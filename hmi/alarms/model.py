"""The alarm vocabulary shared by definitions, the state machine, the journal and the KPIs.

Plain data, no I/O. States follow ISA-18.2 / IEC 62682 and OPC UA Part 9: an alarm's condition
is active or not and acknowledged or not (normal, active-unacknowledged, active-acknowledged,
returned-to-normal-unacknowledged); shelved, suppressed by design and out of service are
orthogonal sub-states that hide an alarm from the operator without changing its condition.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

__all__ = [
    "AlarmKind",
    "AlarmState",
    "Event",
    "Priority",
    "Transition",
]


class Priority(IntEnum):
    """Four levels; higher is more urgent (ISA-18.2 recommends three or four)."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3
    URGENT = 4


class AlarmKind(StrEnum):
    """What an alarm watches."""

    HIHI = "hihi"
    HI = "hi"
    LO = "lo"
    LOLO = "lolo"
    DEVIATION = "deviation"  # |value - setpoint tag| beyond a limit
    RATE = "rate"  # rate of change beyond a limit (units per second)
    DIGITAL = "digital"  # a boolean in its alarm state
    BAD_QUALITY = "bad_quality"
    OFFLINE = "offline"  # a device's link
    PACKET_LOSS = "packet_loss"  # a device's link loss above a limit
    FROZEN = "frozen"  # no change beyond noise for a time while the plant runs
    SPIKE = "spike"  # a jump beyond a physical rate limit that returns
    RANGE = "range"  # outside the physical range
    PLAUSIBILITY = "plausibility"  # a cross-check between tags failed
    LEAK = "leak"  # a segment's mass balance
    SYSTEM = "system"  # the HMI's own health (history, publisher)


class AlarmState(StrEnum):
    """What the operator sees of one alarm (the sub-states win over the condition)."""

    NORMAL = "normal"
    UNACK = "unack"  # active, not acknowledged
    ACKED = "acked"  # active, acknowledged
    RTN_UNACK = "rtn_unack"  # returned to normal, not acknowledged
    SHELVED = "shelved"
    SUPPRESSED = "suppressed"  # suppressed by design (a condition in the project)
    OUT_OF_SERVICE = "out_of_service"


class Event(StrEnum):
    """What happened to an alarm; every transition is journaled as one of these."""

    ACTIVATE = "activate"
    CLEAR = "clear"  # the condition returned to normal
    ACK = "ack"
    SHELVE = "shelve"
    UNSHELVE = "unshelve"  # by a person or when the shelf time ran out
    SUPPRESS = "suppress"
    UNSUPPRESS = "unsuppress"
    REMOVE_FROM_SERVICE = "remove_from_service"
    RETURN_TO_SERVICE = "return_to_service"
    RESET = "reset"  # a latched alarm reset by a person
    EDIT = "edit"  # an engineer changed a limit, delay or priority (comment: old -> new)


@dataclass(frozen=True, slots=True)
class Transition:
    """One journal record: a change of one alarm's state, with who, why and what it saw."""

    ts: float  # epoch seconds
    alarm: str  # alarm id, e.g. "HS1.TT101.hi"
    event: Event
    state: AlarmState  # the state after the transition
    priority: Priority
    area: str
    tag: str
    value: float | None = None  # the value that caused it (None for person-made transitions)
    limit: float | None = None
    user: str = ""  # who (empty for the system)
    comment: str = ""
    host: str = ""

"""One alarm's runtime state machine (ISA-18.2 / IEC 62682, OPC UA Part 9); pure, no I/O.

Owns what happens to an alarm once its raw condition is known (see `conditions.py`): on-delay
and off-delay, acknowledgement, latching and reset, shelving (timed and one-shot, with a
maximum and automatic unshelve), suppression by design and out of service. Every change of the
observable state (active, acked, latched, shelved, suppressed, out of service) yields exactly one
`Transition` carrying the resulting `AlarmState`; a call that changes nothing yields none. It
never checks permissions (the engine does), never reads a clock (every method takes `now`) and
never raises for an operator's mistake: a refused request comes back as an `Outcome` whose
`refused` says why.

Semantics chosen where ISA-18.2 leaves room:
- Delays: the raw condition must hold continuously for `on_delay` before ACTIVATE and stay clear
  for `off_delay` before CLEAR, values held between samples. A delay that elapses without a new
  sample fires on the next `tick`/`update`/request; transitions are stamped with that call's
  `now`. Deadband (value hysteresis, in the condition) and off-delay (time) compose.
- Latching: when a latched alarm's condition clears it stays active (`latched` becomes true,
  journaled as CLEAR with the unchanged state); `reset` is allowed once it is acknowledged and
  its condition is still clear, and returns it to NORMAL (RESET). A new activation while
  latched is a new ACTIVATE (unacknowledged again).
- Shelved, suppressed and out of service only hide: the condition still evolves and its changes
  are journaled (ACTIVATE/CLEAR with the hiding state, e.g. SHELVED) but not annunciated. An alarm
  cannot be acknowledged or reset while hidden. When the last hiding sub-state ends it returns
  as ISA-18.2 says, through NORMAL: still active means unacknowledged again (re-annunciated),
  clear means NORMAL.
- Shelving: refused while already shelved, without a reason, or for a duration not in
  (0, max_duration]. A one-shot shelve also ends when the condition next clears, and at the
  latest after `duration`; so no alarm is ever shelved beyond its maximum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hmi.alarms.model import AlarmState, Event, Priority, Transition

__all__ = ["UNCHANGED", "Alarm", "AlarmRefused", "Outcome", "Removal", "Shelf"]


class AlarmRefused(Exception):
    """A request the alarm refused (acking a normal alarm, shelving beyond the maximum, ...)."""


class Outcome(list[Transition]):
    """The transitions one call produced, in order; `refused` says why a request was not done.

    A refused request may still carry transitions that were due before it (an expired shelf,
    an elapsed on-delay): every call first brings the alarm up to `now`.
    """

    __slots__ = ("refused",)

    def __init__(self, transitions: list[Transition] | None = None, refused: str = "") -> None:
        """Wrap the transitions and the reason for refusing (empty when done)."""
        super().__init__(transitions or [])
        self.refused = refused

    @property
    def ok(self) -> bool:
        """True when the request was done (possibly with no change, e.g. suppress twice)."""
        return not self.refused

    def check(self) -> Outcome:
        """Return self, or raise AlarmRefused when the request was refused."""
        if self.refused:
            raise AlarmRefused(self.refused)
        return self


UNCHANGED = Outcome()
"""What `Alarm.update` returns when nothing changed and nothing waits (shared: never mutate)."""


@dataclass(frozen=True, slots=True)
class Shelf:
    """Who shelved an alarm, why, when, until when (epoch seconds), and whether one-shot."""

    user: str
    reason: str
    since: float
    until: float
    one_shot: bool = False


@dataclass(frozen=True, slots=True)
class Removal:
    """Who took an alarm out of service, why and when."""

    user: str
    reason: str
    since: float


def _check_delay(name: str, seconds: float) -> float:
    """A delay in seconds, or ValueError when negative or not finite."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{name} {seconds!r} must be zero or more seconds")
    return float(seconds)


class Alarm:
    """One alarm's runtime state; methods take `now` and return the transitions they caused."""

    def __init__(
        self,
        *,
        id: str,
        tag: str,
        area: str = "",
        priority: Priority = Priority.MEDIUM,
        on_delay: float = 0.0,
        off_delay: float = 0.0,
        latch: bool = False,
    ) -> None:
        """A normal alarm; ValueError for negative or infinite delays."""
        self.id = id
        self.tag = tag
        self.area = area
        self.priority = priority
        self.on_delay = _check_delay("on_delay", on_delay)
        self.off_delay = _check_delay("off_delay", off_delay)
        self.latch = latch
        self._raw = False  # the condition as last fed by update()
        self._raw_since = -math.inf  # when the raw condition took its current value
        self._condition = False  # the raw condition after on/off delays
        self._active = False
        self._acked = True
        self._latched = False  # active only because of the latch (condition clear)
        self._shelf: Shelf | None = None
        self._suppressed = False
        self._removal: Removal | None = None
        self._value: float | None = None
        self._limit: float | None = None

    # -- what the operator sees --------------------------------------------------------------

    @property
    def state(self) -> AlarmState:
        """The state shown: out of service > suppressed > shelved > the condition's state."""
        if self._removal is not None:
            return AlarmState.OUT_OF_SERVICE
        if self._suppressed:
            return AlarmState.SUPPRESSED
        if self._shelf is not None:
            return AlarmState.SHELVED
        if self._active:
            return AlarmState.ACKED if self._acked else AlarmState.UNACK
        return AlarmState.NORMAL if self._acked else AlarmState.RTN_UNACK

    @property
    def active(self) -> bool:
        """True while the alarm is active (its delayed condition, or held by the latch)."""
        return self._active

    @property
    def acked(self) -> bool:
        """True when nothing awaits acknowledgement (always true in NORMAL)."""
        return self._acked

    @property
    def condition(self) -> bool:
        """The raw condition after on/off delays (what `active` follows unless latched)."""
        return self._condition

    @property
    def latched(self) -> bool:
        """True while a latched alarm is held active after its condition cleared (reset it)."""
        return self._latched

    @property
    def shelf(self) -> Shelf | None:
        """Who shelved it, why and until when; None when not shelved."""
        return self._shelf

    @property
    def shelved(self) -> bool:
        """True while shelved."""
        return self._shelf is not None

    @property
    def suppressed(self) -> bool:
        """True while suppressed by design."""
        return self._suppressed

    @property
    def removal(self) -> Removal | None:
        """Who took it out of service, why and when; None when in service."""
        return self._removal

    @property
    def out_of_service(self) -> bool:
        """True while out of service."""
        return self._removal is not None

    @property
    def hidden(self) -> bool:
        """True while shelved, suppressed or out of service (not annunciated)."""
        return self._shelf is not None or self._suppressed or self._removal is not None

    # -- the condition -----------------------------------------------------------------------

    def update(
        self, in_alarm: bool, now: float, value: float | None = None, limit: float | None = None
    ) -> Outcome:
        """Feed the raw condition (and the value and limit to journal with it) at `now`."""
        raw = self._raw
        if in_alarm == raw and raw == self._condition and self._shelf is None:
            # the common case: no change, no delay running, no shelf to expire
            self._value, self._limit = value, limit
            return UNCHANGED
        out = self._advance(now)
        self._value, self._limit = value, limit
        if in_alarm != self._raw:
            self._raw, self._raw_since = in_alarm, now
            out.extend(self._advance(now))
        return out

    def due_at(self) -> float:
        """When `tick` next has work (a delay elapsing, a shelf ending); inf when nothing waits."""
        shelf = self._shelf.until if self._shelf is not None else math.inf
        return min(self._delay_due(), shelf)

    def tick(self, now: float) -> Outcome:
        """Fire what is due by `now`: elapsed on/off delays and expired shelves."""
        return self._advance(now)

    def suppress(self, active: bool, now: float) -> Outcome:
        """Set suppression by design (driven by a project condition); repeating it is a no-op."""
        out = self._advance(now)
        if active == self._suppressed:
            return out
        self._suppressed = active
        if active:
            out.append(self._journal(Event.SUPPRESS, now))
        else:
            out.append(self._unhidden(Event.UNSUPPRESS, now))
        return out

    # -- the operator --------------------------------------------------------------------------

    def ack(self, user: str, comment: str, now: float) -> Outcome:
        """Acknowledge: UNACK -> ACKED, RTN_UNACK -> NORMAL."""
        out = self._advance(now)
        if self.hidden:
            return self._refuse(out, f"cannot acknowledge {self.id}: it is {self.state.value}")
        if self._acked:
            why = "already acknowledged" if self._active else "not in alarm"
            return self._refuse(out, f"cannot acknowledge {self.id}: {why}")
        self._acked = True
        out.append(self._journal(Event.ACK, now, user, comment))
        return out

    def reset(self, user: str, now: float) -> Outcome:
        """Reset a latched, acknowledged alarm whose condition has cleared back to NORMAL."""
        out = self._advance(now)
        if not self.latch:
            return self._refuse(out, f"cannot reset {self.id}: it is not a latching alarm")
        if self.hidden:
            return self._refuse(out, f"cannot reset {self.id}: it is {self.state.value}")
        if not self._active:
            return self._refuse(out, f"cannot reset {self.id}: not in alarm")
        if self._condition:
            return self._refuse(out, f"cannot reset {self.id}: its condition is still active")
        if not self._acked:
            return self._refuse(out, f"cannot reset {self.id}: acknowledge it first")
        self._active = self._latched = False
        out.append(self._journal(Event.RESET, now, user))
        return out

    def shelve(
        self,
        user: str,
        reason: str,
        now: float,
        duration: float,
        max_duration: float,
        *,
        one_shot: bool = False,
    ) -> Outcome:
        """Shelve for `duration` s (at most `max_duration`); one-shot ends at the next clear too."""
        out = self._advance(now)
        refused = self._shelve_refusal(reason, duration, max_duration)
        if refused:
            return self._refuse(out, f"cannot shelve {self.id}: {refused}")
        self._shelf = Shelf(user, reason, now, now + duration, one_shot)
        out.append(self._journal(Event.SHELVE, now, user, reason))
        return out

    def unshelve(self, user: str, now: float) -> Outcome:
        """Unshelve now (a person's request)."""
        out = self._advance(now)
        if self._shelf is None:
            return self._refuse(out, f"cannot unshelve {self.id}: it is not shelved")
        self._shelf = None
        out.append(self._unhidden(Event.UNSHELVE, now, user))
        return out

    def remove_from_service(self, user: str, reason: str, now: float) -> Outcome:
        """Take the alarm out of service (maintenance); it stays hidden until returned."""
        out = self._advance(now)
        if self._removal is not None:
            by = self._removal.user or "the system"
            return self._refuse(out, f"cannot remove {self.id}: already out of service ({by})")
        if not reason.strip():
            return self._refuse(out, f"cannot remove {self.id}: give a reason")
        self._removal = Removal(user, reason, now)
        out.append(self._journal(Event.REMOVE_FROM_SERVICE, now, user, reason))
        return out

    def return_to_service(self, user: str, now: float) -> Outcome:
        """Return an out-of-service alarm to service."""
        out = self._advance(now)
        if self._removal is None:
            return self._refuse(out, f"cannot return {self.id} to service: it is in service")
        self._removal = None
        out.append(self._unhidden(Event.RETURN_TO_SERVICE, now, user))
        return out

    # -- inside --------------------------------------------------------------------------------

    def _shelve_refusal(self, reason: str, duration: float, max_duration: float) -> str:
        """Why this shelve request is refused, or empty when it may go ahead."""
        if self._shelf is not None:
            by = self._shelf.user or "the system"
            return f"already shelved by {by} until {self._shelf.until:.0f}; unshelve it first"
        if not reason.strip():
            return "give a reason"
        if not math.isfinite(max_duration) or max_duration <= 0:
            return f"the maximum shelve time {max_duration!r} s is not above zero"
        if not math.isfinite(duration) or duration <= 0:
            return f"the shelve time {duration!r} s is not above zero"
        if duration > max_duration:
            return f"{duration:g} s is longer than the maximum {max_duration:g} s"
        return ""

    def _advance(self, now: float) -> Outcome:
        """Fire, in the order they fell due, an elapsed delay and an expired shelf."""
        out = Outcome()
        delay_due = self._delay_due()
        shelf_due = self._shelf.until if self._shelf is not None else math.inf
        if delay_due <= now and delay_due <= shelf_due:
            out.extend(self._settle(now))
            delay_due = math.inf
        if self._shelf is not None and self._shelf.until <= now:
            self._shelf = None
            out.append(self._unhidden(Event.UNSHELVE, now, comment="shelve time ran out"))
        if delay_due <= now:
            out.extend(self._settle(now))
        return out

    def _delay_due(self) -> float:
        """When the pending raw change takes effect (inf when nothing is pending)."""
        if self._raw == self._condition:
            return math.inf
        return self._raw_since + (self.on_delay if self._raw else self.off_delay)

    def _settle(self, now: float) -> list[Transition]:
        """The delayed condition takes the raw one: ACTIVATE or CLEAR (and a one-shot unshelve)."""
        self._condition = self._raw
        if self._condition:
            self._active, self._acked, self._latched = True, False, False
            return [self._journal(Event.ACTIVATE, now, value=self._value)]
        if self.latch and self._active:
            self._latched = True
        else:
            self._active = False
        out = [self._journal(Event.CLEAR, now, value=self._value)]
        if self._shelf is not None and self._shelf.one_shot:
            self._shelf = None
            out.append(self._unhidden(Event.UNSHELVE, now, comment="one-shot: returned to normal"))
        return out

    def _unhidden(self, event: Event, now: float, user: str = "", comment: str = "") -> Transition:
        """Journal leaving a sub-state; shown again, an active alarm is unacknowledged anew."""
        if not self.hidden:
            self._acked = not self._active
        return self._journal(event, now, user, comment)

    def _refuse(self, out: Outcome, why: str) -> Outcome:
        """The outcome of a refused request: what was due before it, and why."""
        out.refused = why
        return out

    def _journal(
        self,
        event: Event,
        now: float,
        user: str = "",
        comment: str = "",
        value: float | None = None,
    ) -> Transition:
        """The journal record of a change that just happened (the state is the new one)."""
        automatic = event in (Event.ACTIVATE, Event.CLEAR)
        return Transition(
            ts=now,
            alarm=self.id,
            event=event,
            state=self.state,
            priority=self.priority,
            area=self.area,
            tag=self.tag,
            value=value,
            limit=self._limit if automatic else None,
            user=user,
            comment=comment,
        )

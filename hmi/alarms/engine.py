"""The alarm engine: a project's alarms evaluated on the runtime's changes, and the one door for
acknowledging, shelving and taking alarms out of service.

`on_changes` (a runtime subscriber, on the runtime thread) feeds each changed tag's conditions
and alarms, re-evaluates deviation alarms when their setpoint changes and suppression by design
when a `suppress` expression's inputs change; `tick` (each second) fires elapsed delays and
expired shelves. Every transition goes to the journal (which never drops one) and bumps a
version, so clients pull what changed since their last look, as they do for tag values.

Operator requests check the person's permission for the alarm's area here, in the core: a
refused request raises `PermissionDenied` and changes and journals nothing.
"""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from hmi.alarm_config import AlarmDef
from hmi.alarms.conditions import Condition, ConditionDef
from hmi.alarms.model import AlarmKind, AlarmState, Event, Priority, Transition
from hmi.alarms.state import UNCHANGED, Alarm, Outcome
from hmi.audit_sink import AuditSink
from hmi.expressions import Expression, compile_expression
from hmi.tags import Quality, Value

__all__ = [
    "ACKNOWLEDGE",
    "EDIT_LIMITS",
    "SHELVE",
    "AlarmEngine",
    "AlarmView",
    "PermissionDenied",
    "Principal",
    "RequestRefused",
]

ACKNOWLEDGE = "acknowledge"
SHELVE = "shelve"  # also unshelve, out of service and back
EDIT_LIMITS = "edit_limits"  # limits, deadbands, delays, latching and priority at run time
RESET = ACKNOWLEDGE
MAX_SHELVE = 8 * 3600.0  # seconds: at most a shift

_CONDITION_KINDS = {
    AlarmKind.OFFLINE: AlarmKind.DIGITAL,  # `_diag.DEV.online` False
    AlarmKind.PACKET_LOSS: AlarmKind.HI,  # `_diag.DEV.loss_pct` above the limit
    AlarmKind.SYSTEM: AlarmKind.DIGITAL,  # the HMI's own health flags (hmi.alarms.system)
    # hmi.diagnostics findings: a flag per finding, the leak rate of a segment
    AlarmKind.FROZEN: AlarmKind.DIGITAL,
    AlarmKind.SPIKE: AlarmKind.DIGITAL,
    AlarmKind.RANGE: AlarmKind.DIGITAL,
    AlarmKind.PLAUSIBILITY: AlarmKind.DIGITAL,
    # `_leak.SEG.rate` not 0 (as a digital: the alarm's value is the estimated loss)
    AlarmKind.LEAK: AlarmKind.DIGITAL,
}


class Principal(Protocol):
    """Who asks: a name and the permissions they hold per area (the security layer's user)."""

    @property
    def name(self) -> str:
        """The user name journaled with the request."""
        ...

    def may(self, permission: str, area: str) -> bool:
        """True when this person holds `permission` in `area`."""
        ...


class PermissionDenied(Exception):
    """The person lacks the permission for this request; nothing was changed."""


class RequestRefused(Exception):
    """The request does not fit the alarm's state (e.g. acknowledging a normal alarm)."""


Persist = Callable[[AlarmDef, str, Any], None]
"""Writes one changed alarm field to the project files; raises (e.g. ProjectError) to refuse."""


class Journal(Protocol):
    """Where transitions go (hmi.alarms.journal.Journal)."""

    def record(self, transitions: Sequence[Transition]) -> None:
        """Store the transitions (never drops one)."""
        ...


@dataclass(frozen=True, slots=True)
class AlarmView:
    """One alarm as a client shows it."""

    id: str
    tag: str
    kind: AlarmKind
    area: str
    priority: Priority
    state: AlarmState
    active: bool
    acked: bool
    message_en: str
    message_zh: str
    value: float | None
    limit: float | None
    since: float | None  # when it last changed state
    shelved_by: str = ""
    shelved_until: float | None = None

    def text(self, language: str = "en") -> str:
        """The message in `language` ("en" or "zh_CN"), with {value} and {limit} filled in."""
        message = self.message_zh if language.startswith("zh") else self.message_en
        if "{" not in message:
            return message
        try:
            return message.format(value=self.value, limit=self.limit)
        except (ValueError, TypeError, KeyError, IndexError):
            # an unknown value ({value:.1f} of None) or a stray brace: the text as written
            return message.replace("{value", "{?").replace("{limit", "{?")


@dataclass(slots=True, eq=False)  # hashed by identity: kept in the set of alarms due
class _Watch:
    definition: AlarmDef
    alarm: Alarm
    condition: Condition
    suppress: Expression | None
    limit: float | None = None  # journaled with a transition (None: digital, bad quality)
    since: float | None = None


MAX_HELD = 10_000  # transitions kept for a journal not attached yet


class AlarmEngine:
    """Evaluates alarms on tag changes and serves operator requests; thread-safe."""

    def __init__(
        self,
        alarms: Mapping[str, AlarmDef],
        journal: Journal | None,
        read: Callable[[str], Value],
        *,
        host: str | None = None,
        clock: Callable[[], float] = time.time,
        max_shelve: float = MAX_SHELVE,
        persist: Persist | None = None,
    ) -> None:
        self.journal = journal  # where transitions go; None: nowhere (tests, tools)
        # with `hold_transitions`: what happened before the journal was attached, for it
        self._held: list[Transition] | None = None
        self.persist = persist  # where edited fields are written; None: memory only
        self.audit: AuditSink | None = None  # where requests are audited; None: nowhere (tests)
        self._read = read
        self._clock = clock
        self.host = host if host is not None else socket.gethostname()
        self.max_shelve = max_shelve
        self._lock = threading.RLock()
        self._watches: dict[str, _Watch] = {}
        self._by_tag: dict[str, list[_Watch]] = {}
        self._by_setpoint: dict[str, list[_Watch]] = {}
        self._by_suppress_input: dict[str, list[_Watch]] = {}
        for definition in alarms.values():
            self._add(definition)
        # per tag name, in one lookup: its own alarms, the deviations it is the setpoint of and
        # the alarms whose suppression reads it
        self._interest: dict[str, tuple[list[_Watch], list[_Watch], list[_Watch]]] = {
            name: (
                self._by_tag.get(name, []),
                self._by_setpoint.get(name, []),
                self._by_suppress_input.get(name, []),
            )
            for name in {*self._by_tag, *self._by_setpoint, *self._by_suppress_input}
        }
        self.version = 0
        self._changed: dict[str, int] = {}  # alarm id -> version of its last change
        self._due: set[_Watch] = set()  # alarms with a delay running or a shelf to end
        self.evaluations = 0  # condition evaluations, for benchmarks
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def hold_transitions(self) -> None:
        """Keep the transitions until `attach_journal` (the runtime may start before the
        journal opens), at most MAX_HELD of them."""
        with self._lock:
            if self.journal is None and self._held is None:
                self._held = []

    def attach_journal(self, journal: Journal | None) -> None:
        """Send transitions to `journal` from now on (None: nowhere), the held ones first."""
        with self._lock:
            held, self._held = self._held, None
            if journal is not None and held:
                journal.record(held)
            self.journal = journal

    def start(self, period: float = 1.0) -> None:
        """Tick every `period` seconds on a thread of its own until `stop`."""
        if self._ticker is None and self._watches:
            self._ticker = threading.Thread(
                target=self._tick_loop, args=(period,), name="conduit-alarms", daemon=True
            )
            self._ticker.start()

    def _tick_loop(self, period: float) -> None:
        while not self._stop.wait(period):
            self.tick()

    def stop(self) -> None:
        """Stop ticking."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(10)

    def _add(self, d: AlarmDef) -> None:
        condition = _carry(None, d)
        alarm = Alarm(
            id=d.id,
            tag=d.tag,
            area=d.area,
            priority=d.priority,
            on_delay=d.on_delay,
            off_delay=d.off_delay,
            latch=d.latch,
        )
        suppress = compile_expression(d.suppress) if d.suppress else None
        watch = _Watch(d, alarm, condition, suppress, condition.limit)
        self._watches[d.id] = watch
        self._by_tag.setdefault(d.input or d.tag, []).append(watch)
        if d.setpoint:
            self._by_setpoint.setdefault(d.setpoint, []).append(watch)
        if suppress is not None:
            for name in suppress.names:
                self._by_suppress_input.setdefault(name, []).append(watch)

    # ---- runtime side -----------------------------------------------------------------------

    def on_changes(self, batch: list[tuple[str, Value]]) -> None:
        """Evaluate the alarms of the changed tags (Runtime subscriber)."""
        now = self._clock()
        out: list[Transition] = []
        interest = self._interest
        with self._lock:
            for name, value in batch:
                hit = interest.get(name)
                if hit is None:
                    continue
                own, setpoint_of, suppressing = hit
                for watch in own:
                    done = self._evaluate(watch, value, now)
                    if done:
                        out.extend(done)
                for watch in setpoint_of:
                    d = watch.definition
                    out.extend(self._evaluate(watch, self._read(d.input or d.tag), now))
                for watch in suppressing:
                    out.extend(self._suppress(watch, now))
            self._publish(out)

    def _evaluate(self, watch: _Watch, value: Value, now: float) -> Outcome:
        d = watch.definition
        setpoint = None
        if d.setpoint:
            sp = self._read(d.setpoint)
            setpoint = sp.value if sp.quality is Quality.GOOD else None
        ts = value.source_ts if value.source_ts is not None else value.recv_ts or now
        cond = watch.condition
        in_alarm = cond.evaluate(value.value, value.quality, ts, setpoint)
        self.evaluations += 1
        outcome = watch.alarm.update(in_alarm, now, cond.measured, watch.limit)
        if outcome is not UNCHANGED:
            self._track(watch)
        return outcome

    def _track(self, watch: _Watch) -> None:
        """Keep `watch` in the set `tick` looks at while it has something due."""
        if watch.alarm.due_at() < math.inf:
            self._due.add(watch)
        else:
            self._due.discard(watch)

    def _suppress(self, watch: _Watch, now: float) -> Outcome:
        expr = watch.suppress
        assert expr is not None
        result, quality, _ = expr.evaluate(self._read)
        outcome = watch.alarm.suppress(quality is not Quality.BAD and bool(result), now)
        self._track(watch)
        return outcome

    def tick(self, now: float | None = None) -> None:
        """Fire elapsed on/off delays and end expired shelves (call about once a second)."""
        now = self._clock() if now is None else now
        out: list[Transition] = []
        with self._lock:
            for watch in list(self._due):
                if watch.alarm.due_at() <= now:
                    out.extend(watch.alarm.tick(now))
                    self._track(watch)
            self._publish(out)

    def _publish(self, transitions: list[Transition]) -> None:
        if not transitions:
            return
        stamped = [t if t.host else replace(t, host=self.host) for t in transitions]
        for t in stamped:
            self.version += 1
            self._changed[t.alarm] = self.version
            watch = self._watches.get(t.alarm)
            if watch is not None:
                watch.since = t.ts
        if self.journal is not None:
            self.journal.record(stamped)
        elif self._held is not None and len(self._held) < MAX_HELD:
            self._held.extend(stamped[: MAX_HELD - len(self._held)])

    # ---- operator requests ------------------------------------------------------------------

    def _request(
        self,
        who: Principal,
        ids: Iterable[str],
        permission: str,
        act: Callable[[Alarm, float], Outcome],
        *,
        action: str,
        note: str = "",
    ) -> list[str]:
        """Apply `act` to each alarm after checking permission for all and auditing the request
        (`action`, with the comment or reason `note`); the texts of the refusals."""
        now = self._clock()
        with self._lock:
            watches = [self._watch(i) for i in ids]
            denied = [
                w.definition.id for w in watches if not who.may(permission, w.definition.area)
            ]
            if denied:
                raise PermissionDenied(
                    f"{who.name} may not {permission} in area "
                    f"{self._watches[denied[0]].definition.area!r} ({', '.join(denied)})"
                )
            target = watches[0].definition.id if len(watches) == 1 else f"{len(watches)} alarms"
            self._record(who, action, target, new="\n".join(w.definition.id for w in watches),
                         reason=note)  # fmt: skip
            out: list[Transition] = []
            refused: list[str] = []
            for watch in watches:
                outcome = act(watch.alarm, now)
                self._track(watch)
                out.extend(outcome)
                if not outcome.ok:
                    refused.append(outcome.refused)
            self._publish(out)
        return refused

    def _watch(self, alarm_id: str) -> _Watch:
        watch = self._watches.get(alarm_id)
        if watch is None:
            raise RequestRefused(f"no alarm {alarm_id!r}")
        return watch

    def ack(self, who: Principal, ids: Iterable[str], comment: str = "") -> list[str]:
        """Acknowledge alarms (one, the selected, all visible); texts of those refused."""
        return self._request(
            who,
            ids,
            ACKNOWLEDGE,
            lambda a, now: a.ack(who.name, comment, now),
            action="alarm.ack",
            note=comment,
        )

    def reset(self, who: Principal, alarm_id: str) -> None:
        """Reset a latched alarm; RequestRefused says why not."""
        self._single(
            self._request(
                who, [alarm_id], RESET, lambda a, now: a.reset(who.name, now), action="alarm.reset"
            )
        )

    def shelve(
        self,
        who: Principal,
        alarm_id: str,
        reason: str,
        duration: float,
        *,
        one_shot: bool = False,
    ) -> None:
        """Shelve an alarm for `duration` s (at most `max_shelve`) with a reason."""

        def act(a: Alarm, now: float) -> Outcome:
            return a.shelve(who.name, reason, now, duration, self.max_shelve, one_shot=one_shot)

        note = f"{reason} ({duration:g} s{', one-shot' if one_shot else ''})"
        self._single(self._request(who, [alarm_id], SHELVE, act, action="alarm.shelve", note=note))

    def unshelve(self, who: Principal, alarm_id: str) -> None:
        """End a shelve now."""
        self._single(
            self._request(
                who,
                [alarm_id],
                SHELVE,
                lambda a, now: a.unshelve(who.name, now),
                action="alarm.unshelve",
            )
        )

    def remove_from_service(self, who: Principal, alarm_id: str, reason: str) -> None:
        """Take an alarm out of service (maintenance) with a reason."""
        self._single(
            self._request(
                who,
                [alarm_id],
                SHELVE,
                lambda a, now: a.remove_from_service(who.name, reason, now),
                action="alarm.remove_from_service",
                note=reason,
            )
        )

    def return_to_service(self, who: Principal, alarm_id: str) -> None:
        """Return an out-of-service alarm to service."""
        self._single(
            self._request(
                who,
                [alarm_id],
                SHELVE,
                lambda a, now: a.return_to_service(who.name, now),
                action="alarm.return_to_service",
            )
        )

    def edit(
        self, who: Principal, alarm_id: str, field: str, value: Any, comment: str = ""
    ) -> AlarmDef:
        """Change a limit, deadband, delay, latch or priority now and in the project files.

        The change is checked, written to the project (`persist`) and only then applied; it is
        journaled as an `edit` with the old and new value. RequestRefused says why not.
        """
        with self._lock:
            watch = self._watch(alarm_id)
            d = watch.definition
            if not who.may(EDIT_LIMITS, d.area):
                raise PermissionDenied(f"{who.name} may not {EDIT_LIMITS} in area {d.area!r}")
        new = _edited(d, field, value)
        self._record(
            who,
            "limit.edit",
            d.id,
            old=f"{field}={_shown(getattr(d, field))}",
            new=f"{field}={_shown(getattr(new, field))}",
            reason=comment,
        )
        if self.persist is not None:
            try:
                self.persist(d, field, getattr(new, field))
            except Exception as exc:  # the files' own rules (order of limits, types...)
                raise RequestRefused(str(exc)) from None
        now = self._clock()
        with self._lock:
            condition = _carry(watch.condition, new)
            alarm = watch.alarm
            alarm.on_delay, alarm.off_delay = new.on_delay, new.off_delay
            alarm.latch, alarm.priority = new.latch, new.priority
            watch.definition, watch.condition, watch.limit = new, condition, condition.limit
            note = f"{field}: {_shown(getattr(d, field))} -> {_shown(getattr(new, field))}"
            edit = Transition(
                ts=now,
                alarm=d.id,
                event=Event.EDIT,
                state=alarm.state,
                priority=new.priority,
                area=d.area,
                tag=d.tag,
                limit=condition.limit,
                user=who.name,
                comment=f"{note} ({comment})" if comment else note,
            )
            out: list[Transition] = [edit]
            out.extend(self._evaluate(watch, self._read(new.input or new.tag), now))
            self._publish(out)
        return new

    def _record(
        self, who: Principal, action: str, target: str, *, old: str = "", new: str = "",
        reason: str = "",
    ) -> None:  # fmt: skip
        """Audit a request before it is carried out; RequestRefused when it cannot be recorded."""
        if self.audit is None:
            return
        try:
            self.audit.record(
                user=who.name, action=action, target=target, old=old, new=new, reason=reason,
                host=self.host,
            )  # fmt: skip
        except Exception as exc:
            raise RequestRefused(
                f"{action} refused: the audit trail could not record it ({exc})"
            ) from exc

    @staticmethod
    def _single(refused: list[str]) -> None:
        if refused:
            raise RequestRefused(refused[0])

    # ---- what clients see -------------------------------------------------------------------

    def view(self, alarm_id: str) -> AlarmView:
        """One alarm as a client shows it."""
        with self._lock:
            return self._view(self._watch(alarm_id))

    def active(self) -> list[AlarmView]:
        """Every alarm not NORMAL, most urgent first, then newest first."""
        with self._lock:
            views = [
                self._view(w)
                for w in self._watches.values()
                if w.alarm.state is not AlarmState.NORMAL
            ]
        views.sort(key=lambda v: (-v.priority, -(v.since or 0.0)))
        return views

    def changes_since(self, version: int) -> tuple[int, list[AlarmView]]:
        """The alarms changed after `version`, and the version to ask from next time."""
        with self._lock:
            ids = [i for i, v in self._changed.items() if v > version]
            return self.version, [self._view(self._watches[i]) for i in ids]

    def _view(self, watch: _Watch) -> AlarmView:
        a, d = watch.alarm, watch.definition
        shelf = a.shelf
        return AlarmView(
            id=d.id,
            tag=d.tag,
            kind=d.kind,
            area=d.area,
            priority=d.priority,
            state=a.state,
            active=a.active,
            acked=a.acked,
            message_en=d.message_en,
            message_zh=d.message_zh,
            value=watch.condition.measured,
            limit=watch.limit,
            since=watch.since,
            shelved_by=shelf.user if shelf is not None else "",
            shelved_until=shelf.until if shelf is not None else None,
        )


_FIELDS = ("limit", "deadband", "on_delay", "off_delay", "latch", "priority")


def _edited(d: AlarmDef, field: str, value: Any) -> AlarmDef:
    """The definition with one field changed, or RequestRefused when the value cannot be."""
    if field not in _FIELDS:
        raise RequestRefused(f"{field!r} cannot be changed at run time ({', '.join(_FIELDS)})")
    new: Any
    try:
        if field == "latch":
            if not isinstance(value, bool):
                raise ValueError(f"expected true or false, got {value!r}")
            new = value
        elif field == "priority":
            new = value if isinstance(value, Priority) else Priority[str(value).upper()]
        else:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"expected a number, got {value!r}")
            new = float(value)
            if not math.isfinite(new) or (field != "limit" and new < 0):
                raise ValueError(f"must be a finite number{'' if field == 'limit' else ' >= 0'}")
            if field == "limit" and d.limit is None:
                raise ValueError(f"a {d.kind} alarm has no limit")
        changes: dict[str, Any] = {field: new}
        edited = replace(d, **changes)
        _carry(None, edited)  # the condition's own rules (deadband within a deviation limit...)
    except (ValueError, KeyError) as exc:
        raise RequestRefused(f"{d.id} {field}: {exc}") from None
    return edited


def _carry(old: Condition | None, d: AlarmDef) -> Condition:
    """A condition for the edited definition that keeps the old one's state."""
    kind = _CONDITION_KINDS.get(d.kind, d.kind)
    condition = Condition(
        ConditionDef(
            kind=kind,
            limit=d.limit or 0.0,
            deadband=d.deadband,
            alarm_state=False if d.kind is AlarmKind.OFFLINE else d.state,
        )
    )
    if old is not None:
        condition.carry_over(old)
    return condition


def _shown(value: Any) -> str:
    if isinstance(value, Priority):
        return value.name.lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value).lower() if isinstance(value, bool) else str(value)

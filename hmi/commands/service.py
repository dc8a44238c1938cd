"""The command service: every write to the plant, select -> confirm -> operate -> read back.

- **select** reserves a point for one person for `select_timeout` seconds (30 s) after checking
  the permission `operate` in the point's area, the target against the limits and the maximum
  step, and the interlocks; a second person's select of a held point is refused.
- **confirm** re-enters the password for a critical point; **approve** is a second person with
  `approve_commands` (never the requester) for a two-person point.
- **operate** checks everything again with the values of now, writes once, and waits for the
  read-back tag to reach the target band within the point's timeout (verified, failed, timeout).

A step that is refused raises `CommandRefused` and never reaches the wire. Every step, refused or
not, is an audit record; when the audit record of a step cannot be written, the step is refused
(for operate: before the write). The write and the read-back run on the service's own workers,
so `operate` returns a future at once.
"""

from __future__ import annotations

import concurrent.futures
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, Protocol

from drivers.base import WriteResult
from hmi.audit_sink import AuditSink
from hmi.command_config import CommandDef
from hmi.commands.model import (
    CommandRefused,
    CommandResult,
    InterlockState,
    Outcome,
    Selection,
)
from hmi.expressions import Expression, compile_expression
from hmi.security.permissions import APPROVE_COMMANDS, OPERATE
from hmi.tags import DataType, Quality, TagDef, Value

__all__ = ["SELECT_TIMEOUT", "CommandService", "Principal"]

log = logging.getLogger("hmi.commands")

SELECT_TIMEOUT = 30.0  # seconds a selection holds its point

Write = Callable[[str, Any], "concurrent.futures.Future[WriteResult]"]


class Principal(Protocol):
    """Who commands: a name and the permissions they hold per area (a security session)."""

    @property
    def name(self) -> str:
        """The user name recorded with each step."""
        ...

    def may(self, permission: str, area: str) -> bool:
        """True when this person holds `permission` in `area`."""
        ...


class CommandService:
    """Select-before-operate for every write to the plant, audited, with read-back."""

    def __init__(
        self,
        commands: Mapping[str, CommandDef],
        tags: Mapping[str, TagDef],
        read: Callable[[str], Value],
        write: Write,
        *,
        audit: AuditSink,
        verify_password: Callable[[Principal, str], bool],
        host: str = "",
        clock: Callable[[], float] = time.time,
        select_timeout: float = SELECT_TIMEOUT,
    ) -> None:
        self.commands = commands
        self._tags = tags
        self._read = read
        self._write = write
        self._audit = audit
        self._verify = verify_password
        self._host = host
        self._clock = clock
        self.select_timeout = select_timeout
        self._interlocks = {
            name: [(lock, compile_expression(lock.block)) for lock in c.interlocks]
            for name, c in commands.items()
        }
        self._lock = threading.Lock()
        self._selections: dict[str, Selection] = {}
        self._held: dict[str, str] = {}  # tag -> id of the selection holding it
        self._changed = threading.Condition()
        self._awaited: dict[str, int] = {}  # read-back tags waited on -> how many waits
        self._pool = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="conduit-cmd")
        self.writes = 0  # writes sent to a device (tests and diagnostics)

    # ---- steps -------------------------------------------------------------------------------

    def select(self, who: Principal, tag: str, target: Any) -> Selection:
        """Reserve `tag` for a command to `target`; CommandRefused says why not."""
        command = self.commands.get(tag)
        if command is None:
            self._refuse(
                who, "command.select", tag, f"{tag} cannot be commanded", old="", new=target
            )
        if not who.may(OPERATE, command.area):
            self._refuse(
                who,
                "command.select",
                tag,
                f"{who.name} may not operate in area {command.area!r}",
                old="",
                new=target,
            )
        now = self._clock()
        current = self._read(tag)
        value = self._checked_target(who, "command.select", command, target, current)
        states = self._interlock_states(tag)
        blocking = [s for s in states if s.blocking]
        if blocking:
            self._refuse(
                who, "command.select", tag, blocking[0].message, old=_shown(current), new=value
            )
        with self._lock:
            self._expire(now)
            holder = self._selections.get(self._held.get(tag, ""))
            if holder is not None and holder.user != who.name:
                self._refuse(
                    who,
                    "command.select",
                    tag,
                    f"{tag} is selected by {holder.user} until {_clock_text(holder.expires)}",
                    old=_shown(current),
                    new=value,
                )
            unit = self._tags[tag].unit if tag in self._tags else ""
            selection = Selection(
                id=uuid.uuid4().hex,
                tag=tag,
                user=who.name,
                area=command.area,
                target=value,
                current=current.value if current.quality is Quality.GOOD else None,
                unit=unit,
                min=command.min,
                max=command.max,
                interlocks=tuple(states),
                critical=command.critical,
                two_person=command.two_person,
                selected=now,
                expires=now + self.select_timeout,
                host=self._host,
            )
            self._record(who, "command.select", tag, _shown(current), value)  # refuses if not kept
            if holder is not None:  # the same person selecting again: the new one replaces it
                self._selections.pop(holder.id, None)
            self._selections[selection.id] = selection
            self._held[tag] = selection.id
        return selection

    def confirm(self, who: Principal, selection_id: str, password: str | None = None) -> Selection:
        """Confirm one's own selection; a critical point needs the password again."""
        with self._lock:
            selection = self._own(who, selection_id, "command.confirm")
            if selection.critical:
                if not password:
                    self._refuse_selection(who, "command.confirm", selection, "password required")
                if not self._verify(who, password):
                    self._refuse_selection(who, "command.confirm", selection, "wrong password")
            self._record(who, "command.confirm", selection.tag, "", selection.target)
            selection.confirmed = True
            return selection

    def approve(self, approver: Principal, selection_id: str, password: str) -> Selection:
        """A second person approves a two-person command (with their own password)."""
        with self._lock:
            selection = self._live(approver, selection_id, "command.approve")
            if not selection.two_person:
                self._refuse_selection(
                    approver, "command.approve", selection, f"{selection.tag} needs no approval"
                )
            if approver.name == selection.user:
                self._refuse_selection(
                    approver, "command.approve", selection,
                    "the requester cannot approve their own command",
                )  # fmt: skip
            if not approver.may(APPROVE_COMMANDS, selection.area):
                self._refuse_selection(
                    approver, "command.approve", selection,
                    f"{approver.name} may not approve commands in area {selection.area!r}",
                )  # fmt: skip
            if not self._verify(approver, password):
                self._refuse_selection(approver, "command.approve", selection, "wrong password")
            self._record(
                approver, "command.approve", selection.tag, "", selection.target,
                reason=f"requested by {selection.user}",
            )  # fmt: skip
            selection.approved_by = approver.name
            return selection

    def cancel(self, who: Principal, selection_id: str) -> None:
        """Give a selection up (its point is free again)."""
        with self._lock:
            selection = self._own(who, selection_id, "command.cancel")
            self._release(selection)
            self._record(who, "command.cancel", selection.tag, "", selection.target)

    def operate(
        self, who: Principal, selection_id: str
    ) -> concurrent.futures.Future[CommandResult]:
        """Check again, write, and read back; the future gives the outcome."""
        with self._lock:
            selection = self._own(who, selection_id, "command.operate")
            if selection.critical and not selection.confirmed:
                self._refuse_selection(
                    who, "command.operate", selection, "not confirmed with the password"
                )
            if selection.two_person and not selection.approved_by:
                self._refuse_selection(
                    who, "command.operate", selection, "waiting for a second person's approval"
                )
            command = self.commands[selection.tag]
            current = self._read(selection.tag)
            self._checked_target(who, "command.operate", command, selection.target, current)
            blocking = [s for s in self._interlock_states(selection.tag) if s.blocking]
            if blocking:
                self._refuse_selection(who, "command.operate", selection, blocking[0].message)
            self._release(selection)  # a selection operates once
            old = current.value if current.quality is Quality.GOOD else None
            self._record(
                who, "command.operate", selection.tag, _shown(current), selection.target,
                reason=f"approved by {selection.approved_by}" if selection.approved_by else "",
            )  # fmt: skip
        return self._pool.submit(self._run, who, selection, command, old)

    # ---- the write and its read-back (a worker thread) ------------------------------------------

    def _run(
        self, who: Principal, selection: Selection, command: CommandDef, old: Any
    ) -> CommandResult:
        tag, target = selection.tag, selection.target
        written = self._clock()
        readback: Any = None
        try:
            self.writes += 1
            answer = self._write(tag, target).result(command.timeout)
        except Exception as exc:  # the link, the runtime or the device: not written
            answer = WriteResult(False, f"{type(exc).__name__}: {exc}")
        if not answer.ok:
            outcome, message = Outcome.FAILED, f"write refused: {answer.error}"
        else:
            outcome, readback = self._await_readback(command, target, written + command.timeout)
            message = (
                f"{command.readback} reached {_number(target)}"
                if outcome is Outcome.VERIFIED
                else f"{command.readback} did not reach {_number(target)} within "
                f"{command.timeout:g} s (last {_number(readback)})"
            )
        result = CommandResult(
            selection.id, tag, who.name, old, target, outcome, readback, message, written,
            self._clock(),
        )  # fmt: skip
        try:
            self._audit.record(
                user=who.name, action="command.result", target=tag, old=_number(old),
                new=_number(readback), reason=message, result=outcome.value, host=self._host,
            )  # fmt: skip
        except Exception as exc:  # written already: say so loudly, the result still stands
            log.error("audit trail: the result of the command on %s was not recorded: %s", tag, exc)
        return result

    def _await_readback(
        self, command: CommandDef, target: Any, deadline: float
    ) -> tuple[Outcome, Any]:
        """Wait (on changes of the read-back tag) until it is within the band, or the deadline."""
        name = command.readback
        with self._changed:
            self._awaited[name] = self._awaited.get(name, 0) + 1
            try:
                while True:
                    value = self._read(name)
                    seen = value.value if value.quality is Quality.GOOD else None
                    if seen is not None and _within(seen, target, command.band):
                        return Outcome.VERIFIED, seen
                    remaining = deadline - self._clock()
                    if remaining <= 0:
                        return Outcome.TIMEOUT, seen
                    self._changed.wait(min(remaining, 1.0))
            finally:
                self._awaited[name] -= 1
                if not self._awaited[name]:
                    del self._awaited[name]

    def on_changes(self, batch: list[tuple[str, Value]]) -> None:
        """Wake read-backs waiting on a tag that changed (Runtime subscriber)."""
        awaited = self._awaited
        if awaited and any(name in awaited for name, _ in batch):
            with self._changed:
                self._changed.notify_all()

    def close(self) -> None:
        """Finish the commands under way and stop the workers."""
        self._pool.shutdown(wait=True)

    # ---- checks ------------------------------------------------------------------------------

    def _checked_target(
        self, who: Principal, action: str, command: CommandDef, target: Any, current: Value
    ) -> Any:
        """The target as written, or CommandRefused when it breaks the point's limits."""
        tag = command.tag
        kind = self._tags[tag].type if tag in self._tags else DataType.FLOAT
        old = _shown(current)
        if kind is DataType.BOOL:
            if not isinstance(target, bool) and target not in (0, 1):
                self._refuse(
                    who, action, tag, f"{tag} takes on/off, not {target!r}", old=old, new=target
                )
            return bool(target)
        if isinstance(target, bool) or not isinstance(target, int | float):
            self._refuse(
                who, action, tag, f"{tag} takes a number, not {target!r}", old=old, new=target
            )
        value = float(target)
        if not math.isfinite(value):
            self._refuse(
                who, action, tag, f"{target!r} is not a finite number", old=old, new=target
            )
        if command.min is not None and value < command.min:
            self._refuse(
                who,
                action,
                tag,
                f"{value:g} is below the minimum {command.min:g}",
                old=old,
                new=value,
            )
        if command.max is not None and value > command.max:
            self._refuse(
                who,
                action,
                tag,
                f"{value:g} is above the maximum {command.max:g}",
                old=old,
                new=value,
            )
        if command.max_step is not None:
            now = current.value if current.quality is Quality.GOOD else None
            if not isinstance(now, int | float):
                self._refuse(
                    who,
                    action,
                    tag,
                    f"{tag} has no good current value to limit the step against",
                    old=old,
                    new=value,
                )
            elif abs(value - float(now)) > command.max_step:
                self._refuse(
                    who,
                    action,
                    tag,
                    f"a step of {abs(value - float(now)):g} from {float(now):g} is more than "
                    f"the maximum step {command.max_step:g}",
                    old=old,
                    new=value,
                )
        return round(value) if kind is DataType.INT else value

    def _interlock_states(self, tag: str) -> list[InterlockState]:
        """Each interlock of `tag` now; one whose inputs are not good blocks (fail safe)."""
        out = []
        for lock, expression in self._interlocks.get(tag, []):
            out.append(_interlock_state(lock.block, lock.message_en, expression, self._read))
        return out

    # ---- selections --------------------------------------------------------------------------

    def _expire(self, now: float) -> None:
        for selection in [s for s in self._selections.values() if s.expires <= now]:
            self._release(selection)

    def _release(self, selection: Selection) -> None:
        self._selections.pop(selection.id, None)
        if self._held.get(selection.tag) == selection.id:
            del self._held[selection.tag]

    def _live(self, who: Principal, selection_id: str, action: str) -> Selection:
        """A selection that has not expired (anyone's); CommandRefused otherwise."""
        selection = self._selections.get(selection_id)
        if selection is None:
            self._refuse(who, action, "", "no such selection: select again", old="", new="")
        if selection.expires <= self._clock():
            self._release(selection)
            self._refuse_selection(
                who, action, selection,
                f"the selection expired at {_clock_text(selection.expires)}: select again",
            )  # fmt: skip
        return selection

    def _own(self, who: Principal, selection_id: str, action: str) -> Selection:
        """`who`'s own live selection; CommandRefused for anyone else's."""
        selection = self._live(who, selection_id, action)
        if selection.user != who.name:
            self._refuse_selection(
                who, action, selection, f"this selection belongs to {selection.user}"
            )
        return selection

    # ---- audit -------------------------------------------------------------------------------

    def _record(
        self, who: Principal, action: str, tag: str, old: str, new: Any, *, reason: str = ""
    ) -> None:
        """Record a step that is going ahead; CommandRefused (nothing done) if it cannot be."""
        try:
            self._audit.record(
                user=who.name, action=action, target=tag, old=old, new=_number(new),
                reason=reason, host=self._host,
            )  # fmt: skip
        except Exception as exc:
            raise CommandRefused(
                f"{action} of {tag} refused: the audit trail could not record it ({exc})"
            ) from exc

    def _refuse(
        self, who: Principal, action: str, tag: str, reason: str, *, old: str = "", new: Any = None
    ) -> NoReturn:
        """Record a refusal (best effort) and raise it."""
        try:
            self._audit.record(
                user=who.name, action=action, target=tag, old=old, new=_number(new),
                reason=reason, result="refused", host=self._host,
            )  # fmt: skip
        except Exception as exc:
            log.error("audit trail: a refused %s of %s was not recorded: %s", action, tag, exc)
        raise CommandRefused(reason)

    def _refuse_selection(
        self, who: Principal, action: str, selection: Selection, reason: str
    ) -> NoReturn:
        self._refuse(who, action, selection.tag, reason, new=selection.target)


def _interlock_state(
    block: str, message: str, expression: Expression, read: Callable[[str], Value]
) -> InterlockState:
    result, quality, _ = expression.evaluate(read)
    if quality is not Quality.GOOD:
        return InterlockState(
            block, f"interlock cannot be checked (inputs not good): {block}", True
        )
    return InterlockState(block, message, bool(result))


def _within(seen: Any, target: Any, band: float) -> bool:
    if isinstance(target, bool):
        return bool(seen) is target
    try:
        return abs(float(seen) - float(target)) <= band
    except (TypeError, ValueError):
        return False


def _number(value: Any) -> str:
    """A value as the audit trail keeps it (text; '' when unknown)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _shown(value: Value) -> str:
    return _number(value.value) if value.quality is Quality.GOOD else f"({value.quality.name})"


def _clock_text(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))

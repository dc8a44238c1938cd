"""RuntimeClient: the one door through which screens reach a station.

Screens never touch the runtime, drivers or storage directly. They pull coalesced batches of
changed tags (`changes_since`) at their refresh rate, and every call that may wait on I/O
returns a future. The in-process client wraps an embedded `Station`; a remote client (runtime
headless at the station, several seats over a broker) will implement the same protocol.
"""

from __future__ import annotations

import concurrent.futures
import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from drivers.base import LinkStats
from hmi.alarm_config import AlarmDef
from hmi.alarms.engine import AlarmView, Principal
from hmi.alarms.model import AlarmKind, AlarmState, Priority, Transition
from hmi.command_config import CommandDef
from hmi.commands.model import CommandResult, Selection
from hmi.screen_config import ScreenDef
from hmi.security.auth import Session
from hmi.security.errors import AuditUnavailable, PermissionRefused, UserError
from hmi.security.permissions import ANY_AREA, EXPORT_REPORTS, RoleGrant
from hmi.security.user_info import UserInfo
from hmi.simulation_process import SimulatorProcess
from hmi.tags import TagDef, Value

# The storage side (SQLAlchemy, DuckDB, NumPy, PyArrow) is imported where it is used: the
# operator application draws its first window and shows live values before it is loaded.
if TYPE_CHECKING:
    from hmi.alarms.response import AlarmResponse, Cause, ResponseDesk
    from hmi.audit.schema import AuditRecord
    from hmi.audit.verify import VerifyReport
    from hmi.commands.service import CommandService
    from hmi.history.query import HistoryReader, Trend
    from hmi.history.query import Sample as HistorySample
    from hmi.security.auth import Authenticator
    from hmi.station import Station
    from hmi.user_admin import UserAdmin

_LAZY = {"Trend": ("hmi.history.query", "Trend"), "HistorySample": ("hmi.history.query", "Sample")}


def __getattr__(name: str) -> Any:
    """The history types, imported on first use (they bring NumPy)."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attr = _LAZY[name]
    return getattr(importlib.import_module(module), attr)


__all__ = [
    "AlarmKind",
    "AlarmState",
    "AlarmView",
    "CommandDef",
    "CommandResult",
    "HistorySample",
    "InProcessClient",
    "LinkStats",
    "Principal",
    "Priority",
    "RoleGrant",
    "RuntimeClient",
    "ScreenDef",
    "Selection",
    "Session",
    "Trend",
    "UserInfo",
    "connect",
]

T = TypeVar("T")
Future = concurrent.futures.Future


class RuntimeClient(Protocol):
    """What a screen may ask of a station."""

    @property
    def started(self) -> Future[None]:
        """Done once the station runs (with its exception when it could not start)."""
        ...

    @property
    def project_name(self) -> str:
        """The project's display name."""
        ...

    def tag_defs(self) -> Mapping[str, TagDef]:
        """Every tag's definition, including diagnostics tags, in project order."""
        ...

    def snapshot(self) -> tuple[int, dict[str, Value]]:
        """The current version and every tag's value."""
        ...

    def changes_since(self, version: int) -> tuple[int, dict[str, Value]]:
        """The current version and the tags changed after `version`."""
        ...

    def link_stats(self) -> dict[str, LinkStats]:
        """Link statistics per device."""
        ...

    def active_alarms(self) -> list[AlarmView]:
        """Every alarm not normal, most urgent first, then newest first."""
        ...

    def alarm_changes_since(self, version: int) -> tuple[int, list[AlarmView]]:
        """The alarm version now and the alarms changed after `version`."""
        ...

    def acknowledge(
        self, who: Principal, ids: Iterable[str], comment: str = ""
    ) -> Future[list[str]]:
        """Acknowledge alarms; the texts of those refused, or PermissionDenied (nothing changed)."""
        ...

    def shelve(
        self, who: Principal, alarm_id: str, reason: str, duration: float, *, one_shot: bool = False
    ) -> Future[None]:
        """Shelve an alarm for `duration` seconds with a reason."""
        ...

    def unshelve(self, who: Principal, alarm_id: str) -> Future[None]:
        """End a shelve now."""
        ...

    def reset_alarm(self, who: Principal, alarm_id: str) -> Future[None]:
        """Reset a latched alarm."""
        ...

    def remove_from_service(self, who: Principal, alarm_id: str, reason: str) -> Future[None]:
        """Take an alarm out of service with a reason."""
        ...

    def return_to_service(self, who: Principal, alarm_id: str) -> Future[None]:
        """Return an out-of-service alarm to service."""
        ...

    def edit_alarm(
        self, who: Principal, alarm_id: str, field: str, value: Any, comment: str = ""
    ) -> Future[AlarmDef]:
        """Change a limit, deadband, delay, latch or priority now and in the project files."""
        ...

    def alarm_responses(
        self,
        start: float | None = None,
        end: float | None = None,
        *,
        alarm: str | None = None,
        open_only: bool = False,
    ) -> Future[list[AlarmResponse]]:
        """Response records (one per alarm occurrence) activated in [start, end)."""
        ...

    def alarm_causes(self) -> Future[list[Cause]]:
        """The active entries of the cause catalogue."""
        ...

    def dispatch(self, who: Principal, response_id: int, to: str) -> Future[None]:
        """Record who was sent to check in the field."""
        ...

    def record_cause(
        self, who: Principal, response_id: int, code: str, note: str = ""
    ) -> Future[None]:
        """Record the cause of an occurrence from the catalogue."""
        ...

    def close_response(self, who: Principal, response_id: int, note: str = "") -> Future[None]:
        """Close an occurrence (its cause recorded)."""
        ...

    def login(self, name: str, password: str) -> Future[Session]:
        """A session for `name` (AuthError, AccountLocked, AccountDisabled when refused)."""
        ...

    def logout(self, session: Session) -> Future[None]:
        """End the session."""
        ...

    def lock(self, session: Session) -> Future[None]:
        """Lock the session: it may only view (alarms stay visible) until unlocked."""
        ...

    def unlock(self, session: Session, password: str) -> Future[None]:
        """Unlock with the same person's password."""
        ...

    def switch_user(self, session: Session, name: str, password: str) -> Future[Session]:
        """Shift change: `name` logs in, then `session` is logged out."""
        ...

    def select(self, who: Principal, tag: str, target: Any) -> Future[Selection]:
        """Reserve a point for a command (limits, step and interlocks checked)."""
        ...

    def confirm(
        self, who: Principal, selection_id: str, password: str | None = None
    ) -> Future[Selection]:
        """Confirm one's own selection (the password again for a critical point)."""
        ...

    def approve(self, approver: Principal, selection_id: str, password: str) -> Future[Selection]:
        """A second person approves a two-person command."""
        ...

    def cancel(self, who: Principal, selection_id: str) -> Future[None]:
        """Give a selection up."""
        ...

    def operate(self, who: Principal, selection_id: str) -> Future[CommandResult]:
        """Write and read back; the future ends with the verified, failed or timed-out result."""
        ...

    def alarm_journal(
        self, start: float | None = None, end: float | None = None, **filters: Any
    ) -> Future[list[Transition]]:
        """Journaled transitions in [start, end), filtered as `query_journal` allows."""
        ...

    def screens(self) -> Mapping[str, ScreenDef]:
        """The project's plant screens by name, in navigation order."""
        ...

    def command_defs(self) -> Mapping[str, CommandDef]:
        """How each writable tag may be commanded (limits, confirmation, interlocks)."""
        ...

    def history_trend(
        self, tags: Sequence[str], start: float, end: float, buckets: int
    ) -> Future[dict[str, Trend]]:
        """Per tag at most `buckets` min/max/first/last/avg buckets over [start, end)."""
        ...

    def history_raw(
        self, tag: str, start: float, end: float, limit: int | None = None
    ) -> Future[list[HistorySample]]:
        """Stored samples (ts, value, quality) of `tag` in [start, end), in time order."""
        ...

    def last_before(self, tag: str, ts: float) -> Future[HistorySample | None]:
        """The last stored sample of `tag` before `ts`, or None."""
        ...

    def first_start(self) -> Future[bool]:
        """True when no user exists yet: the first administrator must be created."""
        ...

    def create_first_admin(self, name: str, password: str, full_name: str = "") -> Future[Session]:
        """Create the first administrator (only while no user exists) and log them in."""
        ...

    def users(self, who: Session) -> Future[list[UserInfo]]:
        """Every user (needs manage_users)."""
        ...

    def roles(self, who: Session) -> Future[dict[str, frozenset[str]]]:
        """Every role and its permissions (needs manage_users)."""
        ...

    def add_user(
        self,
        who: Session,
        name: str,
        password: str,
        grants: Iterable[RoleGrant],
        full_name: str = "",
    ) -> Future[UserInfo]:
        """Create a user (needs manage_users)."""
        ...

    def set_roles(self, who: Session, name: str, grants: Iterable[RoleGrant]) -> Future[None]:
        """Replace a user's role grants (needs manage_users)."""
        ...

    def set_disabled(
        self, who: Session, name: str, disabled: bool, reason: str = ""
    ) -> Future[None]:
        """Disable or enable a user (needs manage_users)."""
        ...

    def reset_password(self, who: Session, name: str, password: str) -> Future[None]:
        """Give a user a new password (needs manage_users)."""
        ...

    def audit(self, who: Session, **filters: Any) -> Future[list[AuditRecord]]:
        """Audit records filtered as `query_audit` allows (needs manage_users)."""
        ...

    def verify_audit(self, who: Session) -> Future[VerifyReport]:
        """Check the audit trail's hash chain (needs manage_users)."""
        ...

    def export_history(
        self,
        who: Session,
        tags: Sequence[str],
        start: float,
        end: float,
        dest: Path,
        *,
        buckets: int | None = None,
    ) -> Future[int]:
        """Write history to an xlsx/csv/parquet file (needs export_reports; audited first)."""
        ...

    def close(self) -> None:
        """Release the connection (an embedded station is stopped)."""
        ...


class InProcessClient:
    """RuntimeClient over a station embedded in this process."""

    def __init__(self, station: Station, *, started: bool = True) -> None:
        self.station = station  # the embedded station, for tools and tests (never for screens)
        self.started: Future[None] = Future()  # done once the station runs (or failed to)
        if started:
            self.started.set_result(None)
        self._runtime = station.runtime
        self._alarms = station.alarms
        # requests that may wait (journal back-pressure, database queries) leave the caller's
        # thread; one worker keeps one person's requests in the order they were made
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="conduit-client")
        # history queries (trends scrolled back a week) must not queue behind an ack
        self._history = concurrent.futures.ThreadPoolExecutor(
            2, thread_name_prefix="conduit-history"
        )

    def _submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        return self._pool.submit(fn, *args, **kwargs)

    @property
    def project_name(self) -> str:
        """The project's display name."""
        return self.station.project.name

    def tag_defs(self) -> Mapping[str, TagDef]:
        """Every tag's definition, including diagnostics tags, in project order."""
        return self._runtime.tags

    def snapshot(self) -> tuple[int, dict[str, Value]]:
        """The current version and every tag's value."""
        return self._runtime.store.snapshot()

    def changes_since(self, version: int) -> tuple[int, dict[str, Value]]:
        """The current version and the tags changed after `version`."""
        return self._runtime.store.changes_since(version)

    def link_stats(self) -> dict[str, LinkStats]:
        """Link statistics per device."""
        return self._runtime.link_stats()

    def active_alarms(self) -> list[AlarmView]:
        """Every alarm not normal, most urgent first, then newest first."""
        return self._alarms.active()

    def alarm_changes_since(self, version: int) -> tuple[int, list[AlarmView]]:
        """The alarm version now and the alarms changed after `version`."""
        return self._alarms.changes_since(version)

    def acknowledge(
        self, who: Principal, ids: Iterable[str], comment: str = ""
    ) -> Future[list[str]]:
        """Acknowledge alarms; the future gives the texts of those refused."""
        return self._submit(self._alarms.ack, who, list(ids), comment)

    def shelve(
        self, who: Principal, alarm_id: str, reason: str, duration: float, *, one_shot: bool = False
    ) -> Future[None]:
        """Shelve an alarm for `duration` seconds with a reason."""
        return self._submit(self._alarms.shelve, who, alarm_id, reason, duration, one_shot=one_shot)

    def unshelve(self, who: Principal, alarm_id: str) -> Future[None]:
        """End a shelve now."""
        return self._submit(self._alarms.unshelve, who, alarm_id)

    def reset_alarm(self, who: Principal, alarm_id: str) -> Future[None]:
        """Reset a latched alarm."""
        return self._submit(self._alarms.reset, who, alarm_id)

    def remove_from_service(self, who: Principal, alarm_id: str, reason: str) -> Future[None]:
        """Take an alarm out of service with a reason."""
        return self._submit(self._alarms.remove_from_service, who, alarm_id, reason)

    def return_to_service(self, who: Principal, alarm_id: str) -> Future[None]:
        """Return an out-of-service alarm to service."""
        return self._submit(self._alarms.return_to_service, who, alarm_id)

    def edit_alarm(
        self, who: Principal, alarm_id: str, field: str, value: Any, comment: str = ""
    ) -> Future[AlarmDef]:
        """Change a limit, deadband, delay, latch or priority now and in the project files."""
        return self._submit(self._alarms.edit, who, alarm_id, field, value, comment)

    def _desk(self) -> ResponseDesk:
        desk = self.station.responses
        if desk is None:
            raise RuntimeError("the alarm response records are not open")
        return desk

    def alarm_responses(
        self,
        start: float | None = None,
        end: float | None = None,
        *,
        alarm: str | None = None,
        open_only: bool = False,
    ) -> Future[list[AlarmResponse]]:
        """Response records (one per alarm occurrence) activated in [start, end)."""
        return self._submit(
            lambda: self._desk().log.responses(start, end, alarm=alarm, open_only=open_only)
        )

    def alarm_causes(self) -> Future[list[Cause]]:
        """The active entries of the cause catalogue."""

        def causes() -> list[Cause]:
            return self._desk().log.causes()

        return self._submit(causes)

    def dispatch(self, who: Principal, response_id: int, to: str) -> Future[None]:
        """Record who was sent to check in the field."""
        return self._submit(lambda: self._desk().dispatch(who, response_id, to))

    def record_cause(
        self, who: Principal, response_id: int, code: str, note: str = ""
    ) -> Future[None]:
        """Record the cause of an occurrence from the catalogue."""
        return self._submit(lambda: self._desk().record_cause(who, response_id, code, note))

    def close_response(self, who: Principal, response_id: int, note: str = "") -> Future[None]:
        """Close an occurrence (its cause recorded)."""
        return self._submit(lambda: self._desk().close(who, response_id, note))

    def _auth(self) -> Authenticator:
        auth = self.station.auth
        if auth is None:
            raise RuntimeError("the user store is not open")
        return auth

    def _commands(self) -> CommandService:
        commands = self.station.commands
        if commands is None:
            raise RuntimeError("the command service is not running")
        return commands

    def login(self, name: str, password: str) -> Future[Session]:
        """A session for `name` (AuthError, AccountLocked, AccountDisabled when refused)."""
        return self._submit(lambda: self._auth().login(name, password))

    def logout(self, session: Session) -> Future[None]:
        """End the session."""
        return self._submit(lambda: self._auth().logout(session))

    def lock(self, session: Session) -> Future[None]:
        """Lock the session: it may only view (alarms stay visible) until unlocked."""
        return self._submit(lambda: self._auth().lock(session))

    def unlock(self, session: Session, password: str) -> Future[None]:
        """Unlock with the same person's password."""
        return self._submit(lambda: self._auth().unlock(session, password))

    def switch_user(self, session: Session, name: str, password: str) -> Future[Session]:
        """Shift change: `name` logs in, then `session` is logged out."""
        return self._submit(lambda: self._auth().switch_user(session, name, password))

    def select(self, who: Principal, tag: str, target: Any) -> Future[Selection]:
        """Reserve a point for a command (limits, step and interlocks checked)."""
        return self._submit(lambda: self._commands().select(who, tag, target))

    def confirm(
        self, who: Principal, selection_id: str, password: str | None = None
    ) -> Future[Selection]:
        """Confirm one's own selection (the password again for a critical point)."""
        return self._submit(lambda: self._commands().confirm(who, selection_id, password))

    def approve(self, approver: Principal, selection_id: str, password: str) -> Future[Selection]:
        """A second person approves a two-person command."""
        return self._submit(lambda: self._commands().approve(approver, selection_id, password))

    def cancel(self, who: Principal, selection_id: str) -> Future[None]:
        """Give a selection up."""
        return self._submit(lambda: self._commands().cancel(who, selection_id))

    def operate(self, who: Principal, selection_id: str) -> Future[CommandResult]:
        """Write and read back; the future ends with the verified, failed or timed-out result."""
        outer: Future[CommandResult] = Future()

        def start() -> None:
            inner = self._commands().operate(who, selection_id)  # checks and audit: refusals here
            inner.add_done_callback(lambda done: _copy(done, outer))

        def started(step: Future[None]) -> None:
            error = step.exception()
            if error is not None:
                outer.set_exception(error)

        self._submit(start).add_done_callback(started)
        return outer

    def alarm_journal(
        self, start: float | None = None, end: float | None = None, **filters: Any
    ) -> Future[list[Transition]]:
        """Journaled transitions in [start, end), filtered as `query_journal` allows."""
        journal = self.station.journal
        if journal is None:
            future: Future[list[Transition]] = Future()
            future.set_exception(RuntimeError("the alarm journal is not open"))
            return future
        from hmi.alarms.journal import query_journal

        return self._submit(query_journal, journal.engine, start, end, **filters)

    def screens(self) -> Mapping[str, ScreenDef]:
        """The project's plant screens by name, in navigation order."""
        found = self.station.project.screens
        return dict(sorted(found.items(), key=lambda kv: (kv[1].order, kv[0])))

    def command_defs(self) -> Mapping[str, CommandDef]:
        """How each writable tag may be commanded (limits, confirmation, interlocks)."""
        return self.station.project.commands

    def _reader(self) -> HistoryReader:
        store = self.station.history.store
        if store is None:
            raise RuntimeError("the historian is not running")
        from hmi.history.query import HistoryReader

        return HistoryReader(store)

    def history_trend(
        self, tags: Sequence[str], start: float, end: float, buckets: int
    ) -> Future[dict[str, Trend]]:
        """Per tag at most `buckets` min/max/first/last/avg buckets over [start, end)."""
        return self._history.submit(lambda: self._reader().trend(list(tags), start, end, buckets))

    def history_raw(
        self, tag: str, start: float, end: float, limit: int | None = None
    ) -> Future[list[HistorySample]]:
        """Stored samples (ts, value, quality) of `tag` in [start, end), in time order."""
        return self._history.submit(lambda: self._reader().raw(tag, start, end, limit))

    def last_before(self, tag: str, ts: float) -> Future[HistorySample | None]:
        """The last stored sample of `tag` before `ts`, or None."""
        return self._history.submit(lambda: self._reader().last_before(tag, ts))

    def _admin(self) -> UserAdmin:
        if self.station.users is None or self.station.audit is None:
            raise RuntimeError("the user store is not open")
        from hmi.user_admin import UserAdmin

        return UserAdmin(self.station.users, self.station.audit.engine)

    def first_start(self) -> Future[bool]:
        """True when no user exists yet: the first administrator must be created."""
        return self._submit(lambda: self._auth().first_start())

    def create_first_admin(self, name: str, password: str, full_name: str = "") -> Future[Session]:
        """Create the first administrator (only while no user exists) and log them in."""

        def create() -> Session:
            users = self.station.users
            if users is None:
                raise RuntimeError("the user store is not open")
            if not users.first_start():
                raise UserError("users exist already: an administrator creates further users")
            grants = [RoleGrant("administrator", ANY_AREA)]
            users.add_user(name, password, grants, by=name, full_name=full_name)
            return self._auth().login(name, password)

        return self._submit(create)

    def users(self, who: Session) -> Future[list[UserInfo]]:
        """Every user (needs manage_users)."""
        return self._submit(lambda: self._admin().users(who))

    def roles(self, who: Session) -> Future[dict[str, frozenset[str]]]:
        """Every role and its permissions (needs manage_users)."""
        return self._submit(lambda: self._admin().roles(who))

    def add_user(
        self,
        who: Session,
        name: str,
        password: str,
        grants: Iterable[RoleGrant],
        full_name: str = "",
    ) -> Future[UserInfo]:
        """Create a user (needs manage_users)."""
        wanted = list(grants)
        return self._submit(lambda: self._admin().add_user(who, name, password, wanted, full_name))

    def set_roles(self, who: Session, name: str, grants: Iterable[RoleGrant]) -> Future[None]:
        """Replace a user's role grants (needs manage_users)."""
        wanted = list(grants)
        return self._submit(lambda: self._admin().set_roles(who, name, wanted))

    def set_disabled(
        self, who: Session, name: str, disabled: bool, reason: str = ""
    ) -> Future[None]:
        """Disable or enable a user (needs manage_users)."""
        return self._submit(lambda: self._admin().set_disabled(who, name, disabled, reason))

    def reset_password(self, who: Session, name: str, password: str) -> Future[None]:
        """Give a user a new password (needs manage_users)."""
        return self._submit(lambda: self._admin().reset_password(who, name, password))

    def audit(self, who: Session, **filters: Any) -> Future[list[AuditRecord]]:
        """Audit records filtered as `query_audit` allows (needs manage_users)."""
        return self._submit(lambda: self._admin().audit(who, **filters))

    def verify_audit(self, who: Session) -> Future[VerifyReport]:
        """Check the audit trail's hash chain (needs manage_users)."""
        return self._submit(lambda: self._admin().verify_audit(who))

    def export_history(
        self,
        who: Session,
        tags: Sequence[str],
        start: float,
        end: float,
        dest: Path,
        *,
        buckets: int | None = None,
    ) -> Future[int]:
        """Write history to an xlsx/csv/parquet file (needs export_reports; audited first)."""
        wanted = list(tags)

        def export() -> int:
            if not who.may(EXPORT_REPORTS, ANY_AREA):
                raise PermissionRefused(f"{who.name} may not export reports")
            audit = self.station.audit
            if audit is None:
                raise AuditUnavailable("export refused: the audit trail is not open")
            stamp = f"{_iso(start)} .. {_iso(end)}"
            try:
                audit.record(
                    user=who.name,
                    action="report.export",
                    target=",".join(wanted)[:200],
                    new=str(dest),
                    reason=stamp if buckets is None else f"{stamp}, {buckets} buckets",
                )
            except Exception as exc:
                raise AuditUnavailable(
                    f"export refused: the audit trail could not record it ({exc})"
                ) from None
            from hmi.history.export import export_history  # pyarrow's csv and parquet writers

            return export_history(self._reader(), wanted, start, end, Path(dest), buckets=buckets)

        return self._history.submit(export)

    def close(self) -> None:
        """Stop the embedded station."""
        self._pool.shutdown(wait=True)
        self._history.shutdown(wait=True, cancel_futures=True)
        self.station.stop()


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def _copy(done: Future[CommandResult], outer: Future[CommandResult]) -> None:
    """Hand an inner future's outcome to the future the caller holds."""
    error = done.exception()
    if error is not None:
        outer.set_exception(error)
    else:
        outer.set_result(done.result())


def connect(
    project: str | Path,
    *,
    simulate: bool = False,
    simulator: SimulatorProcess | None = None,
    values_first: bool = False,
    background: bool = False,
) -> InProcessClient:
    """Open a project, start its station in this process and return a client for it.

    With `simulate` the project's simulators run in this process; or give `simulator`, a child
    process serving them (another core: the operator application's demo), spawned as early as
    the caller likes.

    With `background` the station starts on the client's worker while the caller goes on (the
    application shows its first window meanwhile); `client.started` says when it is up or
    why it failed, and requests made meanwhile wait for it.
    """
    from hmi.station import Station

    station = Station.open(project, simulate=simulate, simulator=simulator)
    if background:
        client = InProcessClient(station, started=False)
        client.started = client._submit(station.start, values_first=values_first)
        return client
    station.start(values_first=values_first)
    return InProcessClient(station)

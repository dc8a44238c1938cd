"""The alarm response workflow: acknowledge, dispatch a field check, record the cause, close.

One `alarm_response` row per alarm occurrence (an alarm id and its activation time), filled in
step by step; `alarm_cause` is the editable catalogue the recorded cause must come from (a
cause is disabled, never deleted, so old records keep their meaning). The rules, checked in
the same transaction as the change and refused with a `ResponseError` a person can act on:
dispatch needs an acknowledged occurrence; a cause must exist in the catalogue and be active;
closing needs a recorded cause; a closed occurrence does not change; no step is dated before
the step it follows. The durations (activation -> ack -> dispatch -> cause -> closed) feed
`hmi.alarms.kpi.workflow_durations`. Every call does database I/O: call it from a worker, not
from the runtime thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Double,
    Engine,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from hmi.alarms.engine import ACKNOWLEDGE, PermissionDenied, Principal
from hmi.alarms.model import Event, Transition
from hmi.db import metadata

__all__ = [
    "DEFAULT_CAUSES",
    "AlarmResponse",
    "Cause",
    "ResponseDesk",
    "ResponseError",
    "ResponseLog",
    "alarm_cause",
    "alarm_response",
]

alarm_cause = Table(
    "alarm_cause",
    metadata,
    Column("code", String(40), primary_key=True),
    Column("text_en", Text, nullable=False),
    Column("text_zh", Text, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
)

alarm_response = Table(
    "alarm_response",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alarm", String(200), nullable=False),
    Column("activated_ts", Double, nullable=False),  # epoch seconds, as in the journal
    Column("acked_ts", Double),
    Column("acked_by", String(100)),
    Column("dispatched_ts", Double),
    Column("dispatched_to", String(200)),  # who is sent to check in the field
    Column("dispatched_by", String(100)),
    Column("cause", String(40), ForeignKey("alarm_cause.code")),
    Column("cause_ts", Double),
    Column("cause_by", String(100)),
    Column("closed_ts", Double),
    Column("closed_by", String(100)),
    Column("note", Text, nullable=False, default=""),
    UniqueConstraint("alarm", "activated_ts", name="uq_alarm_response_occurrence"),
    Index("ix_alarm_response_activated_ts", "activated_ts"),
)


DEFAULT_CAUSES: tuple[tuple[str, str, str], ...] = (
    ("SENSOR", "Sensor or transmitter fault", "传感器/变送器故障"),
    ("COMM", "Communication fault (PLC, gateway, network)", "通讯故障（PLC、网关、网络）"),
    ("PROCESS", "Real process upset", "工艺异常"),
    ("EQUIPMENT", "Equipment failure (pump, valve, exchanger)", "设备故障（泵、阀门、换热器）"),
    ("LEAK", "Leak found in the network", "管网泄漏"),
    ("MAINTENANCE", "Maintenance or test work", "检修或测试作业"),
    ("SETTING", "Alarm limit or setting wrong", "报警限值或设置不当"),
    ("OPERATION", "Operator action", "操作人员操作"),
    ("UNKNOWN", "No cause found", "原因不明"),
)
"""The catalogue a new installation starts with (edited afterwards by the engineers)."""


class ResponseError(ValueError):
    """A workflow step refused: names the occurrence and the rule it broke."""


@dataclass(frozen=True, slots=True)
class Cause:
    """One entry of the cause catalogue."""

    code: str
    text_en: str
    text_zh: str
    active: bool = True


@dataclass(frozen=True, slots=True)
class AlarmResponse:
    """The response to one alarm occurrence, as far as it has got."""

    id: int
    alarm: str
    activated_ts: float
    acked_ts: float | None = None
    acked_by: str | None = None
    dispatched_ts: float | None = None
    dispatched_to: str | None = None
    dispatched_by: str | None = None
    cause: str | None = None
    cause_ts: float | None = None
    cause_by: str | None = None
    closed_ts: float | None = None
    closed_by: str | None = None
    note: str = ""


_R = alarm_response.c
_C = alarm_cause.c


class ResponseLog:
    """The response records and the cause catalogue in one database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ---- occurrences -------------------------------------------------------------------------

    def open(self, alarm: str, activated_ts: float) -> int:
        """The id of the occurrence's record, created if new."""
        with self.engine.begin() as conn:
            return self._open(conn, alarm, activated_ts)

    def apply(self, transitions: Iterable[Transition]) -> None:
        """Open a record per activation and fill the ack from the journal's transitions."""
        with self.engine.begin() as conn:
            self.apply_in(conn, transitions)

    def apply_in(self, conn: Connection, transitions: Iterable[Transition]) -> None:
        """`apply` inside the caller's transaction (the journal calls it after each batch)."""
        batch = list(transitions)
        opened: list[dict[str, Any]] = [
            {"alarm": t.alarm, "activated_ts": t.ts, "note": ""}
            for t in batch
            if t.event is Event.ACTIVATE
        ]
        if opened:
            try:
                with conn.begin_nested():  # a flood: one INSERT for all its occurrences
                    conn.execute(alarm_response.insert(), opened)
            except IntegrityError:  # some were opened already: one by one, skipping those
                for item in opened:
                    self._open(conn, item["alarm"], item["activated_ts"])
        for t in batch:
            if t.event is not Event.ACK:
                continue
            row = conn.execute(
                select(_R.id)
                .where(_R.alarm == t.alarm, _R.activated_ts <= t.ts, _R.acked_ts.is_(None))
                .order_by(_R.activated_ts.desc())
                .limit(1)
            ).first()
            if row is not None:
                conn.execute(
                    update(alarm_response)
                    .where(_R.id == row.id)
                    .values(acked_ts=t.ts, acked_by=t.user)
                )

    def acknowledge(self, response_id: int, ts: float, by: str) -> None:
        """Record the acknowledgement of an occurrence."""
        with self.engine.begin() as conn:
            r = self._get(conn, response_id)
            if r.acked_ts is not None:
                raise ResponseError(f"{_name(r)} was already acknowledged by {r.acked_by}")
            _not_before(r, ts, r.activated_ts, "its activation")
            self._set(conn, r.id, acked_ts=ts, acked_by=by)

    def dispatch(self, response_id: int, ts: float, to: str, by: str) -> None:
        """Record who was sent to check in the field (needs an acknowledged occurrence)."""
        if not to.strip():
            raise ResponseError("dispatch needs the name of who is sent")
        with self.engine.begin() as conn:
            r = self._get(conn, response_id)
            if r.acked_ts is None:
                raise ResponseError(f"{_name(r)}: acknowledge the alarm before dispatching")
            _not_before(r, ts, r.acked_ts, "the acknowledgement")
            self._set(conn, r.id, dispatched_ts=ts, dispatched_to=to, dispatched_by=by)

    def record_cause(self, response_id: int, code: str, ts: float, by: str, note: str = "") -> None:
        """Record the cause, which must be an active entry of the catalogue."""
        with self.engine.begin() as conn:
            r = self._get(conn, response_id)
            cause = conn.execute(select(alarm_cause).where(_C.code == code)).first()
            if cause is None:
                raise ResponseError(f"{_name(r)}: no cause {code!r} in the catalogue")
            if not cause.active:
                raise ResponseError(f"{_name(r)}: cause {code!r} is disabled in the catalogue")
            after = r.dispatched_ts if r.dispatched_ts is not None else r.activated_ts
            _not_before(r, ts, after, "the previous step")
            values: dict[str, Any] = {"cause": code, "cause_ts": ts, "cause_by": by}
            if note:
                values["note"] = note
            self._set(conn, r.id, **values)

    def close(self, response_id: int, ts: float, by: str, note: str = "") -> None:
        """Close the occurrence (needs a recorded cause)."""
        with self.engine.begin() as conn:
            r = self._get(conn, response_id)
            if r.cause is None or r.cause_ts is None:
                raise ResponseError(f"{_name(r)}: record a cause before closing")
            _not_before(r, ts, r.cause_ts, "the recorded cause")
            values: dict[str, Any] = {"closed_ts": ts, "closed_by": by}
            if note:
                values["note"] = note
            self._set(conn, r.id, **values)

    def get(self, response_id: int) -> AlarmResponse:
        """One record by id."""
        with self.engine.connect() as conn:
            return self._get(conn, response_id, for_update=False)

    def responses(
        self,
        start: float | None = None,
        end: float | None = None,
        *,
        alarm: str | None = None,
        open_only: bool = False,
    ) -> list[AlarmResponse]:
        """Records whose activation is in [start, end), oldest first."""
        stmt = select(alarm_response).order_by(_R.activated_ts, _R.id)
        if start is not None:
            stmt = stmt.where(_R.activated_ts >= start)
        if end is not None:
            stmt = stmt.where(_R.activated_ts < end)
        if alarm is not None:
            stmt = stmt.where(_R.alarm == alarm)
        if open_only:
            stmt = stmt.where(_R.closed_ts.is_(None))
        with self.engine.connect() as conn:
            return [AlarmResponse(**m) for m in conn.execute(stmt).mappings()]

    # ---- the cause catalogue -----------------------------------------------------------------

    def add_cause(self, code: str, text_en: str, text_zh: str) -> None:
        """Add a cause to the catalogue (refused if the code exists: edit it instead)."""
        if not code.strip() or not text_en.strip():
            raise ResponseError("a cause needs a code and an English text")
        with self.engine.begin() as conn:
            if conn.execute(select(_C.code).where(_C.code == code)).first() is not None:
                raise ResponseError(f"cause {code!r} exists already")
            conn.execute(
                alarm_cause.insert().values(
                    code=code, text_en=text_en, text_zh=text_zh, active=True
                )
            )

    def edit_cause(
        self, code: str, *, text_en: str | None = None, text_zh: str | None = None
    ) -> None:
        """Change a cause's texts."""
        values = {k: v for k, v in (("text_en", text_en), ("text_zh", text_zh)) if v is not None}
        if values:
            self._set_cause(code, **values)

    def disable_cause(self, code: str) -> None:
        """Withdraw a cause from new records (old records keep it)."""
        self._set_cause(code, active=False)

    def enable_cause(self, code: str) -> None:
        """Offer a disabled cause again."""
        self._set_cause(code, active=True)

    def seed_causes(self, causes: Iterable[tuple[str, str, str]] = DEFAULT_CAUSES) -> int:
        """Fill an empty catalogue with `causes`; how many were added (0 if it had entries)."""
        with self.engine.begin() as conn:
            if conn.execute(select(_C.code).limit(1)).first() is not None:
                return 0
            rows = [
                {"code": c, "text_en": en, "text_zh": zh, "active": True} for c, en, zh in causes
            ]
            conn.execute(alarm_cause.insert(), rows)
            return len(rows)

    def causes(self, *, include_inactive: bool = False) -> list[Cause]:
        """The catalogue, by code."""
        stmt = select(alarm_cause).order_by(_C.code)
        if not include_inactive:
            stmt = stmt.where(_C.active.is_(True))
        with self.engine.connect() as conn:
            return [Cause(**m) for m in conn.execute(stmt).mappings()]

    # ---- internals ---------------------------------------------------------------------------

    def _open(self, conn: Connection, alarm: str, activated_ts: float) -> int:
        found = conn.execute(
            select(_R.id).where(_R.alarm == alarm, _R.activated_ts == activated_ts)
        ).first()
        if found is not None:
            return int(found.id)
        result = conn.execute(
            alarm_response.insert().values(alarm=alarm, activated_ts=activated_ts, note="")
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def _get(self, conn: Connection, response_id: int, *, for_update: bool = True) -> AlarmResponse:
        stmt = select(alarm_response).where(_R.id == response_id)
        if for_update:
            stmt = stmt.with_for_update()  # two seats answering one alarm: one waits
        m = conn.execute(stmt).mappings().first()
        if m is None:
            raise ResponseError(f"no alarm response record {response_id}")
        r = AlarmResponse(**m)
        if for_update and r.closed_ts is not None:
            raise ResponseError(f"{_name(r)} was closed by {r.closed_by}: it does not change")
        return r

    def _set(self, conn: Connection, response_id: int, **values: Any) -> None:
        conn.execute(update(alarm_response).where(_R.id == response_id).values(**values))

    def _set_cause(self, code: str, **values: Any) -> None:
        with self.engine.begin() as conn:
            done = conn.execute(update(alarm_cause).where(_C.code == code).values(**values))
            if done.rowcount == 0:
                raise ResponseError(f"no cause {code!r} in the catalogue")


def _name(r: AlarmResponse) -> str:
    return f"alarm {r.alarm} (activated at {r.activated_ts:.3f}, record {r.id})"


def _not_before(r: AlarmResponse, ts: float, earlier: float, what: str) -> None:
    if ts < earlier:
        raise ResponseError(f"{_name(r)}: {ts:.3f} is before {what} at {earlier:.3f}")


class ResponseDesk:
    """The workflow steps as people take them: permission for the alarm's area checked first."""

    def __init__(
        self,
        log: ResponseLog,
        area_of: Callable[[str], str],
        *,
        permission: str = ACKNOWLEDGE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.log = log
        self._area_of = area_of
        self._permission = permission
        self._clock = clock

    def _check(self, who: Principal, response_id: int) -> None:
        area = self._area_of(self.log.get(response_id).alarm)
        if not who.may(self._permission, area):
            raise PermissionDenied(f"{who.name} may not answer alarms in area {area!r}")

    def dispatch(self, who: Principal, response_id: int, to: str) -> None:
        """Record who was sent to check in the field."""
        self._check(who, response_id)
        self.log.dispatch(response_id, self._clock(), to, who.name)

    def record_cause(self, who: Principal, response_id: int, code: str, note: str = "") -> None:
        """Record the cause from the catalogue."""
        self._check(who, response_id)
        self.log.record_cause(response_id, code, self._clock(), who.name, note)

    def close(self, who: Principal, response_id: int, note: str = "") -> None:
        """Close the occurrence."""
        self._check(who, response_id)
        self.log.close(response_id, self._clock(), who.name, note)

"""Appending to the audit trail: one record per call, stored before the call returns.

`AuditTrail.record` writes synchronously in its own transaction: the caller acts only once the
record is stored, and any failure (database gone, locked, table missing, a field too long)
raises `AuditError`, which refuses the action being recorded. Its message names the action and
the database's reason, never the values written, and the driver's exception (whose text would
carry the SQL parameters) is not chained.

Appends from several threads, processes or control-room seats never fork the chain: each
transaction first locks the one `audit_head` row (an UPDATE on SQLite, which takes the
database's write lock; `SELECT ... FOR UPDATE` elsewhere), reads the last seq and hash there,
inserts the next record and moves the head, so appends are serialized by the database itself.
This module never updates or deletes a record.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from sqlalchemy import Connection, Engine, exc, insert, select, update

from hmi.audit.schema import (
    GENESIS,
    LIMITS,
    AuditError,
    AuditRecord,
    audit_head,
    audit_trail,
    chain_hash,
)

__all__ = ["AuditTrail", "db_reason"]

_HEAD = audit_head.c


def db_reason(error: Exception) -> str:
    """The database's own words for a failure, without the SQL or its parameters."""
    orig = getattr(error, "orig", None)
    text = str(orig if orig is not None else error).strip()
    first = text.splitlines()[0] if text else ""
    return first or type(error).__name__


class AuditTrail:
    """Appends hash-chained audit records to the relational store, one transaction each."""

    def __init__(
        self,
        engine: Engine,
        *,
        host: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.host = host if host is not None else socket.gethostname()
        self.clock = clock
        try:
            audit_trail.metadata.create_all(engine, tables=[audit_trail, audit_head])
            self._ensure_head()
        except exc.SQLAlchemyError as error:
            raise AuditError(f"audit trail unavailable: {db_reason(error)}") from None

    def _ensure_head(self) -> None:
        """Create the head row of a new, empty trail (a trail with records keeps what it has)."""
        try:
            with self.engine.begin() as conn:
                if conn.execute(select(_HEAD.id)).first() is not None:
                    return
                if conn.execute(select(audit_trail.c.seq).limit(1)).first() is not None:
                    return  # records without a head: verify reports it and record refuses
                conn.execute(insert(audit_head).values(id=1, seq=0, hash=GENESIS))
        except exc.IntegrityError:
            pass  # another seat created it at the same moment

    def record(
        self,
        *,
        user: str,
        action: str,
        target: str = "",
        old: str = "",
        new: str = "",
        reason: str = "",
        result: str = "ok",
        host: str | None = None,
    ) -> AuditRecord:
        """Store one record and return it; raises AuditError (and stores nothing) on failure."""
        fields = {
            "user": user,
            "host": self.host if host is None else host,
            "action": action,
            "target": target,
            "old": old,
            "new": new,
            "reason": reason,
            "result": result,
        }
        _check(fields)
        try:
            with self.engine.begin() as conn:
                row = self._append(conn, fields)
        except exc.SQLAlchemyError as error:
            raise AuditError(
                f"audit record of {action!r} not stored ({db_reason(error)}); the action is refused"
            ) from None
        return row

    def _append(self, conn: Connection, fields: dict[str, str]) -> AuditRecord:
        if conn.dialect.name == "sqlite":
            # the first statement writes, so this transaction holds the write lock from here on
            # (waiting up to the busy timeout) and reads no stale snapshot
            conn.execute(update(audit_head).where(_HEAD.id == 1).values(seq=_HEAD.seq))
        head = conn.execute(
            select(_HEAD.seq, _HEAD.hash).where(_HEAD.id == 1).with_for_update()
        ).first()
        if head is None:
            raise AuditError(
                f"audit record of {fields['action']!r} not stored: the trail's head row is "
                "missing (run `conduit audit --verify`); the action is refused"
            )
        ts_us = round(self.clock() * 1_000_000)
        values = {"seq": head.seq + 1, "ts_us": ts_us, **fields, "prev_hash": head.hash}
        values["hash"] = chain_hash(values)
        conn.execute(insert(audit_trail).values(**values))
        conn.execute(
            update(audit_head).where(_HEAD.id == 1).values(seq=values["seq"], hash=values["hash"])
        )
        return AuditRecord(
            seq=values["seq"],
            ts=ts_us / 1_000_000,
            user=fields["user"],
            host=fields["host"],
            action=fields["action"],
            target=fields["target"],
            old=fields["old"],
            new=fields["new"],
            reason=fields["reason"],
            result=fields["result"],
            prev_hash=head.hash,
            hash=values["hash"],
        )


def _check(fields: dict[str, str]) -> None:
    """Refuse what the database would refuse (or SQLite would silently keep): say which field."""
    action = fields["action"]
    for name, value in fields.items():
        if not isinstance(value, str):
            raise AuditError(
                f"audit record of {action!r} not stored: {name} must be text, "
                f"not {type(value).__name__}"
            )
        if "\x00" in value:
            raise AuditError(f"audit record of {action!r} not stored: {name} holds a NUL character")
        limit = LIMITS.get(name)
        if limit is not None and len(value) > limit:
            raise AuditError(
                f"audit record of {action!r} not stored: {name} is longer than {limit} characters"
            )
    if not action:
        raise AuditError("audit record not stored: the action is empty")

"""What the audit trail stores and how each record is hashed.

Two tables on `hmi.db.metadata`: `audit_trail` (the records, one row each, keyed by `seq`) and
`audit_head` (one row: the last seq and its hash). The head is what writers lock to append one
at a time, and what `verify` compares the end of the chain with, so a deleted tail is found.

A record's hash is SHA-256 over a canonical encoding of every field, `seq` and `prev_hash`
included: JSON with sorted keys, no spaces and ASCII escapes, the time as integer microseconds
(`ts_us`), so the bytes hashed never depend on how a float is printed or on the database.
The first record's `prev_hash` is `GENESIS`. Change nothing here without a new chain version:
every stored hash depends on it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from hmi.db import metadata

__all__ = [
    "GENESIS",
    "LIMITS",
    "TEXT_FIELDS",
    "AuditError",
    "AuditRecord",
    "audit_head",
    "audit_trail",
    "chain_hash",
    "record_from_row",
]

GENESIS = "0" * 64  # the prev_hash of the first record

# the longest text each indexed field takes; old, new and reason are unbounded
LIMITS = {"user": 200, "host": 200, "action": 100, "target": 400, "result": 64}
TEXT_FIELDS = ("user", "host", "action", "target", "old", "new", "reason", "result")

audit_trail = Table(
    "audit_trail",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("ts_us", BigInteger, nullable=False),  # epoch microseconds: exact on every database
    Column("user", String(LIMITS["user"]), nullable=False),
    Column("host", String(LIMITS["host"]), nullable=False),
    Column("action", String(LIMITS["action"]), nullable=False),
    Column("target", String(LIMITS["target"]), nullable=False),
    Column("old", Text, nullable=False),
    Column("new", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("result", String(LIMITS["result"]), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_trail_ts", "ts_us"),
    Index("ix_audit_trail_user_ts", "user", "ts_us"),
    Index("ix_audit_trail_action_ts", "action", "ts_us"),
    Index("ix_audit_trail_target_ts", "target", "ts_us"),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    CheckConstraint("id = 1", name="ck_audit_head_one_row"),
)


class AuditError(RuntimeError):
    """The audit trail could not store or read a record; an action it should record is refused."""


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One stored audit record: who did what, where, when, to what, and how it ended."""

    seq: int
    ts: float  # epoch seconds (stored as integer microseconds)
    user: str
    host: str
    action: str
    target: str
    old: str
    new: str
    reason: str
    result: str
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        """The record as a plain, JSON-ready dict."""
        return asdict(self)


def chain_hash(fields: dict[str, Any]) -> str:
    """The SHA-256 (hex) of a record's fields: seq, ts_us, the text fields and prev_hash."""
    payload = {name: fields[name] for name in ("seq", "ts_us", *TEXT_FIELDS, "prev_hash")}
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(encoded.encode("ascii")).hexdigest()


def record_from_row(row: Any) -> AuditRecord:
    """An AuditRecord from an `audit_trail` row mapping."""
    return AuditRecord(
        seq=row["seq"],
        ts=row["ts_us"] / 1_000_000,
        user=row["user"],
        host=row["host"],
        action=row["action"],
        target=row["target"],
        old=row["old"],
        new=row["new"],
        reason=row["reason"],
        result=row["result"],
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )

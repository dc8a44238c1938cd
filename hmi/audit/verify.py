"""Checking the audit trail: is every record as written, in place, and none missing or added?

`verify` walks the records in seq order inside one read snapshot (so appends by running seats
while it reads are not mistaken for tampering), streaming them (memory stays flat however long
the trail). For each record it recomputes the hash, checks the link to the record before it
and the seq continuity; at the end it compares the last record with the head row. Each problem
names the seq where it was found and says in words what is wrong there. It never writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, exc, inspect, select

from hmi.audit.schema import GENESIS, AuditError, audit_head, audit_trail, chain_hash
from hmi.audit.trail import db_reason

__all__ = ["Problem", "VerifyReport", "verify"]

_HINT_ROWS = 200  # changed records checked for a reordering (the check is quadratic)
_NEAR = 3  # besides other changed records, a changed record is tried at seq ± this


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the trail: where (seq, None for the head row), what kind, in words."""

    seq: int | None
    kind: str  # edited | reordered | missing | unlinked | forged | head
    message: str


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of `verify`: how many records, the head, and every problem found."""

    count: int
    head_seq: int
    head_hash: str
    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        """The report as a plain, JSON-ready dict."""
        return {
            "ok": self.ok,
            "count": self.count,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "problems": [
                {"seq": p.seq, "kind": p.kind, "message": p.message} for p in self.problems
            ],
        }


def verify(engine: Engine, *, batch: int = 2_000) -> VerifyReport:
    """Check every record's hash, link and place, and the head; an empty store is a clean trail."""
    try:
        with _snapshot(engine) as conn:
            tables = inspect(conn)
            if not tables.has_table(audit_trail.name):
                return VerifyReport(count=0, head_seq=0, head_hash=GENESIS)
            head = None
            if tables.has_table(audit_head.name):
                head = conn.execute(select(audit_head.c.seq, audit_head.c.hash)).first()
            walk = _Walk(None if head is None else (head.seq, head.hash))
            rows = conn.execute(
                select(audit_trail).order_by(audit_trail.c.seq),
                execution_options={"yield_per": batch},
            )
            for row in rows.mappings():
                walk.add(row)
            return walk.report()
    except exc.SQLAlchemyError as error:
        raise AuditError(f"audit trail not readable: {db_reason(error)}") from None


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection whose reads all see one committed state of the database."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("BEGIN")  # the driver would run each SELECT on its own
            try:
                yield conn
            finally:
                conn.rollback()
    else:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            try:
                yield conn
            finally:
                conn.rollback()


def _span(first: int, last: int) -> str:
    return f"seq {first}" if first == last else f"seq {first}..{last}"


@dataclass
class _Walk:
    """The state of one pass over the records in seq order."""

    head: tuple[int, str] | None
    count: int = 0
    expected: int = 1
    last_seq: int = 0
    prev_hash: str = GENESIS  # the stored hash of the record before
    prev_changed: bool = False
    problems: list[Problem] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)

    def add(self, row: RowMapping) -> None:
        seq: int = row["seq"]
        self.count += 1
        if seq < self.expected:  # seq is unique and ascending: only 0 or below gets here
            self.problems.append(
                Problem(
                    seq,
                    "forged",
                    f"seq {seq}: no record can have this number (the trail "
                    "starts at 1): it was added outside the audit trail",
                )
            )
            return
        gap = seq > self.expected
        if gap:
            self.problems.append(Problem(seq, "missing", self._gap_text(seq)))
        changed = chain_hash(dict(row)) != row["hash"]
        if changed:
            if len(self.changed) < _HINT_ROWS:
                self.changed.append(dict(row))
            else:
                self.problems.append(Problem(seq, "edited", _edited(seq)))
        elif not gap and not self.prev_changed and row["prev_hash"] != self.prev_hash:
            self.problems.append(Problem(seq, "unlinked", _unlinked(seq)))
        if self.head is not None:
            head_seq, head_hash = self.head
            if seq > head_seq:
                self.problems.append(
                    Problem(
                        seq,
                        "forged",
                        f"seq {seq}: comes after the head (the last record "
                        f"appended through the trail is seq {head_seq}): it was added outside "
                        "the audit trail, or the head row was set back",
                    )
                )
            elif seq == head_seq and not changed and row["hash"] != head_hash:
                self.problems.append(
                    Problem(
                        seq,
                        "head",
                        f"seq {seq}: is not the record the head row names as "
                        "the last one: it was replaced, or the head row was altered",
                    )
                )
        self.expected, self.last_seq = seq + 1, seq
        self.prev_hash, self.prev_changed = row["hash"], changed

    def _gap_text(self, seq: int) -> str:
        missing = _span(self.expected, seq - 1)
        if self.expected == 1:
            return f"{missing} missing (deleted): the trail starts at seq {seq}"
        return f"{missing} missing (deleted): seq {seq} follows seq {self.expected - 1}"

    def report(self) -> VerifyReport:
        self._explain_changed()
        head_seq, head_hash = self.head if self.head is not None else (0, GENESIS)
        if self.head is None and self.count:
            self.problems.append(
                Problem(
                    None,
                    "head",
                    "the head row (audit_head) is missing: it was deleted, so "
                    "a deleted tail cannot be told apart and appends are refused",
                )
            )
        elif self.head is not None and head_seq > self.last_seq:
            self.problems.append(
                Problem(
                    head_seq,
                    "missing",
                    f"{_span(self.last_seq + 1, head_seq)} missing "
                    f"(deleted): the head says the trail ends at seq {head_seq}, the last "
                    f"record is seq {self.last_seq}: the newest records were deleted",
                )
            )
        elif head_seq == 0 and head_hash != GENESIS:
            self.problems.append(Problem(None, "head", "the head row was altered"))
        self.problems.sort(key=lambda p: (p.seq is None, p.seq or 0))
        return VerifyReport(self.count, head_seq, head_hash, tuple(self.problems))

    def _explain_changed(self) -> None:
        """Tell a record moved to another seq (reordered) from one whose fields were edited."""
        candidates = {r["seq"] for r in self.changed}
        for row in self.changed:
            seq = row["seq"]
            near = {seq + d for d in range(-_NEAR, _NEAR + 1)}
            origin = next(
                (
                    s
                    for s in sorted((candidates | near) - {seq})
                    if s > 0 and chain_hash({**row, "seq": s}) == row["hash"]
                ),
                None,
            )
            if origin is None:
                self.problems.append(Problem(seq, "edited", _edited(seq)))
            else:
                self.problems.append(
                    Problem(
                        seq,
                        "reordered",
                        f"seq {seq}: holds the record written as seq "
                        f"{origin}: records were reordered (their seq numbers or contents "
                        "exchanged)",
                    )
                )


def _edited(seq: int) -> str:
    return (
        f"seq {seq}: changed after it was written: its fields no longer match its hash "
        "(compare it with a backup or an exported copy to see which)"
    )


def _unlinked(seq: int) -> str:
    if seq == 1:
        return "seq 1: its prev_hash is not the genesis value: it was forged or rewritten"
    return (
        f"seq {seq}: not chained to seq {seq - 1} (its prev_hash is not seq {seq - 1}'s hash): "
        f"seq {seq - 1} was rewritten with a recomputed hash, or seq {seq} was forged"
    )

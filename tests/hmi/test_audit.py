"""The audit trail on SQLite and PostgreSQL: records, the chain, concurrent seats, write failures
and queries. Tampering is in test_audit_verify.py, the command line in test_audit_cli.py."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, delete, func, select, text

from hmi.audit.query import query_audit
from hmi.audit.schema import GENESIS, AuditError, audit_head, audit_trail, chain_hash
from hmi.audit.trail import AuditTrail
from hmi.audit.verify import verify
from hmi.db import open_database

T0 = 1_760_000_000.123456


def url_of(engine: Engine) -> str:
    """The engine's URL with its password, to open a second engine on the same database."""
    return engine.url.render_as_string(hide_password=False)


def second_engine(database: Engine, tmp_path: Path, busy_timeout: float = 30.0) -> Engine:
    """Another engine on the fixture's database (for SQLite: the same file, a longer timeout)."""
    url = None if database.dialect.name == "sqlite" else url_of(database)
    return open_database(url, tmp_path, busy_timeout=busy_timeout)


def rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_trail)).scalar_one())


def head(engine: Engine) -> tuple[int, str]:
    with engine.connect() as conn:
        row = conn.execute(select(audit_head.c.seq, audit_head.c.hash)).one()
    return row.seq, row.hash


def test_a_record_round_trips_every_field(database: Engine) -> None:
    trail = AuditTrail(database, host="seat-1", clock=lambda: T0)
    stored = trail.record(
        user="张工",
        action="limit.edit",
        target="HS1.TT101.hi",
        old="95.0",
        new='98.5 "°C"',
        reason="winter \\ setting\nper ticket 42",
        result="ok",
    )
    other = trail.record(user="bob", action="login_failed", result="refused", host="seat-2")
    assert stored.seq == 1 and stored.prev_hash == GENESIS and stored.ts == T0
    assert stored.host == "seat-1" and other.host == "seat-2" and other.prev_hash == stored.hash
    assert query_audit(database) == [stored, other]
    fields = {**stored.as_dict(), "ts_us": round(T0 * 1_000_000)}
    assert chain_hash(fields) == stored.hash and len(stored.hash) == 64
    assert other.target == other.old == other.new == other.reason == ""


def test_records_are_chained_and_the_head_follows_the_last(database: Engine) -> None:
    trail = AuditTrail(database, host="h")
    assert head(database) == (0, GENESIS)
    made = [trail.record(user="op", action="alarm.ack", target=f"A{i}") for i in range(5)]
    assert [r.seq for r in made] == [1, 2, 3, 4, 5]
    assert [r.prev_hash for r in made] == [GENESIS] + [r.hash for r in made[:-1]]
    assert len({r.hash for r in made}) == 5
    assert head(database) == (5, made[-1].hash)
    report = verify(database)
    assert report.ok and report.count == 5 and report.head_hash == made[-1].hash
    # a second trail object (another seat starting) continues the same chain
    assert AuditTrail(database, host="h2").record(user="op", action="login").seq == 6


def test_concurrent_seats_never_fork_the_chain(database: Engine, tmp_path: Path) -> None:
    engines = [second_engine(database, tmp_path), second_engine(database, tmp_path)]
    trails = [AuditTrail(e, host=f"seat-{i}") for i, e in enumerate(engines)]
    per_thread, threads_per_engine = 20, 4
    errors: list[BaseException] = []
    start = threading.Barrier(len(engines) * threads_per_engine)

    def append(trail: AuditTrail, n: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                trail.record(user=f"user{n}", action="command.operate", target=f"V{i}")
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=append, args=(trails[k % 2], k))
        for k in range(len(engines) * threads_per_engine)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for e in engines:
        e.dispose()
    assert not errors, errors
    total = per_thread * len(threads)
    records = query_audit(database, limit=total + 1)
    assert [r.seq for r in records] == list(range(1, total + 1))
    assert {r.host for r in records} == {"seat-0", "seat-1"}
    for k in range(len(threads)):
        assert sum(1 for r in records if r.user == f"user{k}") == per_thread
    report = verify(database)
    assert report.ok, report.problems
    assert report.count == total and report.head_seq == total


def test_a_record_that_cannot_be_written_raises_and_adds_nothing(database: Engine) -> None:
    trail = AuditTrail(database, host="h")
    trail.record(user="op", action="login")
    before = head(database)
    with database.begin() as conn:
        conn.execute(text("ALTER TABLE audit_trail RENAME TO audit_trail_away"))
    try:
        with pytest.raises(AuditError) as caught:
            trail.record(user="op", action="user.add", target="eve", new="s3cret-value")
    finally:
        with database.begin() as conn:
            conn.execute(text("ALTER TABLE audit_trail_away RENAME TO audit_trail"))
    message = str(caught.value)
    assert "'user.add' not stored" in message and "refused" in message
    assert "s3cret-value" not in message and "INSERT" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert rows(database) == 1 and head(database) == before and verify(database).ok


def test_a_locked_database_refuses_the_record(database: Engine, tmp_path: Path) -> None:
    trail = AuditTrail(database, host="h")
    trail.record(user="op", action="login")
    if database.dialect.name == "sqlite":
        holder = sqlite3.connect(tmp_path / "hmi.sqlite", isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        locked = trail  # the fixture's busy timeout is 0.1 s
        release = holder.rollback
    else:
        impatient = create_engine(url_of(database), connect_args={"options": "-c lock_timeout=200"})
        locked = AuditTrail(impatient, host="h")
        holder_conn = database.connect()
        holder_conn.execute(select(audit_head).with_for_update())

        def release() -> None:
            holder_conn.rollback()
            holder_conn.close()
            impatient.dispose()

    try:
        with pytest.raises(AuditError, match=r"'command.operate' not stored \(.*lock"):
            locked.record(user="op", action="command.operate", target="V1", new="open")
    finally:
        release()
        if database.dialect.name == "sqlite":
            holder.close()
    assert rows(database) == 1 and verify(database).ok
    assert trail.record(user="op", action="command.operate").seq == 2


def test_a_missing_head_row_refuses_appends(database: Engine) -> None:
    trail = AuditTrail(database, host="h")
    trail.record(user="op", action="login")
    with database.begin() as conn:
        conn.execute(delete(audit_head))
    with pytest.raises(AuditError, match="head row is missing"):
        trail.record(user="op", action="logout")
    AuditTrail(database)  # a seat starting does not re-create it over existing records
    assert rows(database) == 1
    problems = verify(database).problems
    assert [(p.seq, p.kind) for p in problems] == [(None, "head")]


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("target", "x" * 401, "target is longer than 400 characters"),
        ("user", "a\x00b", "user holds a NUL character"),
        ("new", 42.5, "new must be text, not float"),
        ("action", "", "the action is empty"),
    ],
)
def test_a_bad_field_is_refused_with_its_name(
    database: Engine, field: str, value: object, why: str
) -> None:
    trail = AuditTrail(database, host="h")
    fields: dict[str, object] = {"user": "op", "action": "limit.edit", field: value}
    with pytest.raises(AuditError, match=why):
        trail.record(**fields)  # type: ignore[arg-type]
    assert rows(database) == 0 and head(database) == (0, GENESIS)


def test_queries_filter_by_time_user_action_and_target(database: Engine) -> None:
    times = iter([100.0, 200.0, 300.0, 400.0, 500.0, 600.0])
    trail = AuditTrail(database, host="h", clock=lambda: next(times))
    trail.record(user="alice", action="login")
    trail.record(user="bob", action="login_failed", result="refused")
    trail.record(user="alice", action="command.select", target="V1")
    trail.record(user="alice", action="command.operate", target="V1", old="closed", new="open")
    trail.record(user="bob", action="alarm.ack", target="HS1.TT101.hi")
    trail.record(user="carol", action="loginXfailed")

    def seqs(*args: float | None, **kw: object) -> list[int]:
        return [r.seq for r in query_audit(database, *args, **kw)]  # type: ignore[arg-type]

    assert seqs() == [1, 2, 3, 4, 5, 6]
    assert seqs(200.0, 400.0) == [2, 3]  # start inclusive, end exclusive
    assert seqs(None, 300.0) == [1, 2] and seqs(500.0) == [5, 6]
    assert seqs(user="alice") == [1, 3, 4] and seqs(user="nobody") == []
    assert seqs(action="login") == [1]
    assert seqs(action="login*") == [1, 2, 6]
    assert seqs(action="login_*") == [2]  # "_" is a plain character, not a wildcard
    assert seqs(action="command.") == [3, 4] and seqs(action="command*") == [3, 4]
    assert seqs(target="V1") == [3, 4]
    assert seqs(user="alice", action="command.", target="V1", start=350.0) == [4]
    assert seqs(newest_first=True) == [6, 5, 4, 3, 2, 1]
    assert seqs(newest_first=True, limit=2) == [6, 5] and seqs(limit=2) == [1, 2]
    operate = query_audit(database, action="command.operate")[0]
    assert (operate.ts, operate.old, operate.new) == (400.0, "closed", "open")


def test_an_empty_store_is_a_clean_empty_trail(tmp_path: Path) -> None:
    engine = open_database(None, tmp_path)
    try:
        report = verify(engine)
        assert report.ok and report.count == 0 and report.head_hash == GENESIS
        assert query_audit(engine) == []
    finally:
        engine.dispose()

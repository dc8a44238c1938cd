"""`verify` and `conduit audit --verify` find each kind of tampering and say where, on SQLite and
PostgreSQL: an edited field, a deleted record (middle or last), swapped records, forged ones."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, delete, insert, select, update

from hmi import cli
from hmi.audit.schema import audit_head, audit_trail, chain_hash
from hmi.audit.trail import AuditTrail
from hmi.audit.verify import verify
from tests.hmi.test_runtime import write_project

C = audit_trail.c
N = 10  # records in each trail before it is tampered with


def row(conn: Connection, seq: int) -> dict[str, Any]:
    return dict(conn.execute(select(audit_trail).where(C.seq == seq)).mappings().one())


def edit_a_field(conn: Connection) -> None:
    conn.execute(update(audit_trail).where(C.seq == 5).values(new="100"))


def edit_and_rehash(conn: Connection) -> None:
    forged = {**row(conn, 5), "new": "100"}
    conn.execute(update(audit_trail).where(C.seq == 5).values(new="100", hash=chain_hash(forged)))


def edit_the_time(conn: Connection) -> None:
    conn.execute(update(audit_trail).where(C.seq == 5).values(ts_us=C.ts_us - 1))


def rewrite_the_last_record(conn: Connection) -> None:
    forged = {**row(conn, N), "result": "refused"}
    conn.execute(
        update(audit_trail).where(C.seq == N).values(result="refused", hash=chain_hash(forged))
    )


def delete_a_middle_record(conn: Connection) -> None:
    conn.execute(delete(audit_trail).where(C.seq == 5))


def delete_the_last_record(conn: Connection) -> None:
    conn.execute(delete(audit_trail).where(C.seq == N))


def swap_contents(conn: Connection) -> None:
    a, b = row(conn, 3), row(conn, 7)
    for seq, other in ((3, b), (7, a)):
        values = {k: v for k, v in other.items() if k != "seq"}
        conn.execute(update(audit_trail).where(C.seq == seq).values(**values))


def swap_seq_numbers(conn: Connection) -> None:
    conn.execute(update(audit_trail).where(C.seq == 3).values(seq=-1))
    conn.execute(update(audit_trail).where(C.seq == 7).values(seq=3))
    conn.execute(update(audit_trail).where(C.seq == -1).values(seq=7))


def append_forged_wrong_link(conn: Connection) -> None:
    forged = {
        **row(conn, N),
        "seq": N + 1,
        "user": "mallory",
        "prev_hash": row(conn, N - 1)["hash"],
    }
    forged["hash"] = chain_hash(forged)
    conn.execute(insert(audit_trail).values(**forged))


def append_forged_good_link(conn: Connection) -> None:
    last = row(conn, N)
    forged = {**last, "seq": N + 1, "user": "mallory", "prev_hash": last["hash"]}
    forged["hash"] = chain_hash(forged)
    conn.execute(insert(audit_trail).values(**forged))


def insert_forged_in_the_middle(conn: Connection) -> None:
    for seq in range(N, 5, -1):  # one at a time, from the end: seq is the primary key
        conn.execute(update(audit_trail).where(C.seq == seq).values(seq=seq + 1))
    forged = {**row(conn, 5), "seq": 6, "user": "mallory", "prev_hash": row(conn, 5)["hash"]}
    forged["hash"] = chain_hash(forged)
    conn.execute(insert(audit_trail).values(**forged))


def move_the_head_back(conn: Connection) -> None:
    conn.execute(update(audit_head).values(seq=N - 1, hash=row(conn, N - 1)["hash"]))


Tamper = Callable[[Connection], None]
CASES: list[tuple[Tamper, list[tuple[int, str]], list[str]]] = [
    (edit_a_field, [(5, "edited")], ["seq 5: changed after it was written"]),
    (edit_the_time, [(5, "edited")], ["seq 5: changed"]),
    (edit_and_rehash, [(6, "unlinked")], ["seq 6: not chained to seq 5", "seq 5 was rewritten"]),
    (rewrite_the_last_record, [(N, "head")], [f"seq {N}: is not the record the head row names"]),
    (delete_a_middle_record, [(6, "missing")], ["seq 5 missing (deleted): seq 6 follows seq 4"]),
    (delete_the_last_record, [(N, "missing")], [f"seq {N} missing (deleted)", "newest"]),
    (
        swap_contents,
        [(3, "reordered"), (7, "reordered")],
        ["seq 3: holds the record written as seq 7", "seq 7: holds the record written as seq 3"],
    ),
    (
        swap_seq_numbers,
        [(3, "reordered"), (7, "reordered")],
        ["seq 3: holds the record written as seq 7"],
    ),
    (
        append_forged_wrong_link,
        [(N + 1, "unlinked"), (N + 1, "forged")],
        [f"seq {N + 1}: not chained to seq {N}", f"seq {N + 1}: comes after the head"],
    ),
    (append_forged_good_link, [(N + 1, "forged")], [f"seq {N + 1}: comes after the head"]),
    (
        insert_forged_in_the_middle,
        [*((s, "reordered") for s in range(7, N + 2)), (N + 1, "forged")],
        ["seq 7: holds the record written as seq 6", f"seq {N + 1}: comes after the head"],
    ),
    (move_the_head_back, [(N, "forged")], [f"seq {N}: comes after the head"]),
]


def make_trail(engine: Engine) -> None:
    times = iter(1_760_000_000 + 60.0 * i for i in range(N))
    trail = AuditTrail(engine, host="seat-1", clock=lambda: next(times))
    for i in range(N):
        trail.record(
            user=("alice", "bob")[i % 2],
            action=("command.select", "command.operate", "alarm.ack")[i % 3],
            target=f"HS1.FCV{100 + i}",
            old="closed",
            new="open",
        )


@pytest.mark.parametrize(("tamper", "found", "words"), CASES, ids=[c[0].__name__ for c in CASES])
def test_verify_finds_the_tampering_and_says_where(
    database: Engine,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    tamper: Tamper,
    found: list[tuple[int, str]],
    words: list[str],
) -> None:
    make_trail(database)
    clean = verify(database)
    assert clean.ok and clean.count == N
    with database.begin() as conn:
        tamper(conn)
    report = verify(database)
    assert not report.ok
    assert sorted((p.seq or 0, p.kind) for p in report.problems) == sorted(found)
    messages = "\n".join(p.message for p in report.problems)
    for w in words:
        assert w in messages

    (tmp_path / "p").mkdir()
    folder = write_project(tmp_path / "p", 1)
    url = database.url.render_as_string(hide_password=False)
    capsys.readouterr()
    assert cli.main(["audit", str(folder), "--verify", "--db", url]) == 2
    out = capsys.readouterr().out
    assert out.startswith(f"TAMPERED: {len(found)} problem(s) in the audit trail of 'Runtime test'")
    for w in words:
        assert w in out


def test_a_clean_trail_verifies_with_its_count_and_head(database: Engine) -> None:
    make_trail(database)
    with database.connect() as conn:
        last = row(conn, N)
    report = verify(database, batch=3)  # several batches
    assert report.ok and report.problems == ()
    assert (report.count, report.head_seq, report.head_hash) == (N, N, last["hash"])
    assert report.as_dict() == {
        "ok": True,
        "count": N,
        "head_seq": N,
        "head_hash": last["hash"],
        "problems": [],
    }

"""The store-and-forward spool: FIFO order, acks, the size bound, persistence, crash safety."""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hmi.spool import Message, Spool, SpoolError

REPO = Path(__file__).resolve().parents[2]


def messages(spool: Spool, count: int, size: int = 10, topic: str = "t") -> list[Message]:
    first = spool.last_seq + 1
    return [Message(first + i, topic, bytes([65 + i % 26]) * size) for i in range(count)]


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    s = Spool(tmp_path / "spool.sqlite", 1_000_000)
    yield s
    s.close()


def test_messages_come_out_in_sequence_order(spool: Spool) -> None:
    spool.append(messages(spool, 3))
    spool.append(messages(spool, 2, topic="u"))
    out = spool.peek(10)
    assert [m.seq for m in out] == [1, 2, 3, 4, 5]
    assert [m.topic for m in out] == ["t", "t", "t", "u", "u"]
    assert [m.seq for m in spool.peek(2)] == [1, 2]
    assert [m.seq for m in spool.peek(10, after=3)] == [4, 5]
    assert spool.depth() == 5
    assert spool.bytes() == 5 * (1 + 10)
    with pytest.raises(ValueError, match="does not follow"):
        spool.append([Message(5, "t", b"x")])


def test_only_acknowledged_messages_are_deleted(spool: Spool) -> None:
    spool.append(messages(spool, 5))
    assert spool.ack(2) == 1
    assert spool.ack(2) == 0  # already gone
    assert [m.seq for m in spool.peek(10)] == [1, 3, 4, 5]
    assert spool.ack_through(3) == 2
    assert [m.seq for m in spool.peek(10)] == [4, 5]
    assert spool.ack_through(0) == 0
    assert spool.depth() == 2 and spool.bytes() == 2 * 11
    assert spool.ack_through(99) == 2
    assert spool.depth() == 0 and spool.bytes() == 0


def test_a_full_spool_drops_the_oldest_counts_them_and_logs_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "hmi.spool")
    spool = Spool(tmp_path / "s.sqlite", max_bytes=10 * 101)  # room for 10 messages of 101 bytes
    try:
        spool.append(messages(spool, 8, size=100))
        assert spool.dropped == 0 and not spool.overflow
        assert spool.append(messages(spool, 5, size=100)) == 3
        assert [m.seq for m in spool.peek(20)] == list(range(4, 14))
        assert spool.append(messages(spool, 4, size=100)) == 4
        assert spool.dropped == 7 and spool.overflow
        assert spool.bytes() <= spool.max_bytes
        overflow_logs = [r for r in caplog.records if "dropping the oldest" in r.getMessage()]
        assert len(overflow_logs) == 1  # one episode, one warning
        spool.ack_through(spool.last_seq)  # drained: the episode ends
        assert not spool.overflow
        assert any("drained" in r.getMessage() for r in caplog.records)
        spool.append(messages(spool, 12, size=100))
        assert spool.overflow and spool.dropped == 9
        overflow_logs = [r for r in caplog.records if "dropping the oldest" in r.getMessage()]
        assert len(overflow_logs) == 2  # a new episode is logged again
    finally:
        spool.close()


def test_a_reopened_spool_continues_the_sequence_and_keeps_unacked(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    first = Spool(path, 1000)
    first.append(messages(first, 20, size=100))  # 9 fit, 11 dropped
    first.ack_through(16)
    first.close()
    again = Spool(path, 1000)
    try:
        assert [m.seq for m in again.peek(10)] == [17, 18, 19, 20]
        assert again.depth() == 4 and again.bytes() == 4 * 101
        assert again.dropped == 11 and again.overflow  # not drained since
        again.ack_through(20)
        again.close()
        third = Spool(path, 1000)
        assert third.last_seq == 20  # empty, yet the sequence continues
        third.append(messages(third, 1))
        assert [m.seq for m in third.peek(5)] == [21]
        assert not third.overflow
        third.close()
    finally:
        again.close()


def test_the_writer_thread_numbers_and_commits_submitted_work(spool: Spool) -> None:
    appended: list[int] = []
    spool.on_append = appended.append
    spool.start()
    for n in range(3):
        spool.submit(lambda seqs, n=n: [Message(next(seqs), "w", f"job {n}".encode())])
    assert spool.flush(10)
    out = spool.peek(10)
    assert [(m.seq, m.payload) for m in out] == [(1, b"job 0"), (2, b"job 1"), (3, b"job 2")]
    assert appended and appended[-1] == 3
    assert spool.pending() == 0


def test_a_full_memory_queue_discards_the_oldest_work(
    spool: Spool, caplog: pytest.LogCaptureFixture
) -> None:
    spool.queue_limit = 10
    for n in range(6):  # writer not started: the queue fills up
        spool.submit(lambda seqs, n=n: [Message(next(seqs), "q", b"%d" % n)], weight=4)
    assert spool.dropped == 4 and spool.overflow
    assert sum("dropping the oldest" in r.getMessage() for r in caplog.records) == 1
    spool.start()
    assert spool.flush(10)
    assert [m.payload for m in spool.peek(10)] == [b"4", b"5"]


def test_a_second_owner_is_refused(spool: Spool) -> None:
    with pytest.raises(SpoolError, match="in use"):
        Spool(spool.path, 1000)


def test_an_unreadable_file_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    spool = Spool(path, 1000)
    try:
        assert spool.depth() == 0
        assert list(tmp_path.glob("s.sqlite.corrupt-*"))
    finally:
        spool.close()


CHILD = """
import sys
from hmi.spool import Message, Spool
spool = Spool(sys.argv[1], 10**9)
batch = 0
while True:
    first = spool.last_seq + 1
    spool.append([Message(first + i, "t", b"%d." % batch * 100) for i in range(200)])
    print(batch, first, flush=True)
    batch += 1
"""


def _read_lines(proc: subprocess.Popen[bytes], count: int, within: float) -> list[bytes]:
    """Lines the child printed, until `count` of them (or EOF); fails after `within` s."""
    assert proc.stdout is not None
    lines: list[bytes] = []
    buffer = b""
    deadline = time.monotonic() + within
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while len(lines) < count:
            left = deadline - time.monotonic()
            assert left > 0, f"child printed only {len(lines)} lines"
            if not sel.select(left):
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            buffer += chunk
            *done, buffer = buffer.split(b"\n")
            lines += done
    return lines


def test_a_process_killed_mid_append_leaves_every_committed_batch(tmp_path: Path) -> None:
    path = tmp_path / "crash.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, cwd=REPO
    )
    try:
        reported = _read_lines(proc, 15, within=30)
        os.kill(proc.pid, signal.SIGKILL)  # it is appending all the time: mid-transaction
        proc.wait(10)
        reported += _read_lines(proc, 10**9, within=10)  # whatever it printed before dying
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        assert proc.stdout is not None
        proc.stdout.close()
    batches = len(reported)
    assert batches >= 15
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    spool = Spool(path, 10**9)
    try:
        rows = spool.depth()
        assert rows % 200 == 0, "a batch was half written"
        assert rows // 200 in (batches, batches + 1)  # the last may have committed unreported
        out = spool.peek(rows)
        assert [m.seq for m in out] == list(range(1, rows + 1))
        for batch in range(batches):
            assert out[batch * 200].payload == b"%d." % batch * 100
        assert spool.last_seq == rows
    finally:
        spool.close()


def test_an_open_spool_is_copied_by_its_owner_for_a_backup(spool: Spool, tmp_path: Path) -> None:
    import sqlite3

    spool.append(messages(spool, 7))
    with pytest.raises(sqlite3.OperationalError):  # held exclusively: nobody else reads it
        other = sqlite3.connect(spool.path, timeout=0.1)
        try:
            other.execute("SELECT count(*) FROM sqlite_master").fetchall()
        finally:
            other.close()
    copy = sqlite3.connect(tmp_path / "copy.sqlite")
    try:
        spool.backup_into(copy)
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        tables = {r[0] for r in copy.execute("SELECT name FROM sqlite_master")}
    finally:
        copy.close()
    reopened = Spool(tmp_path / "copy.sqlite", 1_000_000)
    try:
        assert [m.seq for m in reopened.peek(10)] == [1, 2, 3, 4, 5, 6, 7]
    finally:
        reopened.close()
    assert tables

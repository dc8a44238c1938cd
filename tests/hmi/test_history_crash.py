"""The historian under bad conditions: kill -9 mid-write, a full disk, a read-only or locked file.

Real DuckDB files and real processes: the writing side runs in `tests/hmi/history_child.py`
(a subprocess), so it can be killed with SIGKILL or limited with RLIMIT_FSIZE without touching
the test process. Every wait is bounded and waits on the child's output or a condition.
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from drivers.base import Quality
from hmi.history.query import HistoryReader
from hmi.history.service import HistoryService, history_path
from hmi.history.store import HistoryStore
from hmi.project import load_project
from hmi.station import Station
from hmi.tags import TagDef, Value
from tests.conftest import wait_until
from tests.drivers.conftest import ModbusTestServer
from tests.hmi.history_child import T0_MS, TAGS, batch_values
from tests.hmi.test_runtime import write_project

ROOT = Path(__file__).resolve().parents[2]
ROWS = 20_000  # rows per batch in the kill test: ~50 batches/s, a checkpoint every ~40


class Child:
    """A `tests.hmi.history_child` process; lines of its stdout read with a deadline."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.hmi.history_child", *args],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._buf = b""
        self._eof = False

    def readline(self, timeout: float = 15.0) -> str | None:
        """The next line of stdout; None at its end; fails the test after `timeout` s."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            if self._eof:
                return None
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                pytest.fail(f"no line from the child within {timeout}s; stderr:\n{self.stderr()}")
            chunk = os.read(fd, 65536)
            self._eof = not chunk
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode()

    def expect(self, prefix: str, timeout: float = 15.0) -> str:
        """The next line, which must start with `prefix`."""
        line = self.readline(timeout)
        if line is None or not line.startswith(prefix):
            pytest.fail(f"expected {prefix!r} from the child, got {line!r}:\n{self.stderr()}")
        return line

    def ask(self, command: str, answer: str, timeout: float = 15.0) -> str:
        """Send one command line and return its answer line (starting with `answer`)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(command.encode() + b"\n")
        self.proc.stdin.flush()
        return self.expect(answer, timeout)

    def rest(self) -> list[str]:
        """Every line left on stdout up to its end (after the child ended)."""
        lines = []
        while (line := self.readline()) is not None:
            lines.append(line)
        return lines

    def stderr(self) -> str:
        """What the child wrote on stderr (kills it first if it still runs)."""
        self.close()
        assert self.proc.stderr is not None
        return self.proc.stderr.read().decode(errors="replace")

    def close(self) -> None:
        """Kill the child if it still runs and reap it."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()


@pytest.fixture
def children() -> Iterator[list[Child]]:
    """Children started by a test; none is left running after it."""
    started: list[Child] = []
    yield started
    for child in started:
        child.close()
        for pipe in (child.proc.stdout, child.proc.stderr):
            if pipe is not None:
                pipe.close()


# ---- kill -9 ------------------------------------------------------------------------------


def _batches_in(path: Path) -> set[int]:
    """Open the file and check every batch in it is complete and once; the batch numbers."""
    store = HistoryStore(path)  # it opens: DuckDB replays its WAL
    try:
        cur = store.cursor()
        try:
            found = cur.execute(
                f"SELECT ts // {ROWS} AS k, count(*), count(DISTINCT ts), min(ts), max(ts),"
                " count(DISTINCT tag_id), sum(value) FROM raw GROUP BY k ORDER BY k"
            ).fetchall()
        finally:
            cur.close()
    finally:
        store.close()
    for k, n, distinct, lo, hi, tags, total in found:
        assert (n, distinct) == (ROWS, ROWS), f"batch {k}: {n} rows, {distinct} distinct"
        assert (lo, hi, tags) == (k * ROWS, (k + 1) * ROWS - 1, TAGS), f"batch {k}"
        assert total == pytest.approx(batch_values(k, ROWS).sum()), f"batch {k} values"
    batches = {int(row[0]) for row in found}
    assert batches == set(range(len(batches))), "batches are appended in order: no gaps"
    return batches


def test_kill_9_during_heavy_writes_keeps_every_committed_batch_once(
    tmp_path: Path, children: list[Child]
) -> None:
    path = tmp_path / "history.duckdb"
    first = 0
    # kill early, around DuckDB's first automatic checkpoint (16 MB of WAL) and past it
    for kill_after in (5, 45, 100):
        child = Child("append", str(path), str(first), str(ROWS))
        children.append(child)
        child.expect("ready")
        committed = [int(child.expect("committed ").split()[1]) for _ in range(kill_after)]
        child.proc.send_signal(signal.SIGKILL)
        child.proc.wait(10)
        # lines printed before the kill also report commits
        committed += [int(line.split()[1]) for line in child.rest()]
        assert committed == list(range(first, first + len(committed)))
        present = _batches_in(path)
        assert set(committed) <= present, "every batch reported committed is in the file"
        assert len(present) - (committed[-1] + 1) in (0, 1), "at most the batch in flight more"
        first = max(present) + 1
    # reopened once more, the file takes appends and still holds every row once
    store = HistoryStore(path)
    try:
        ids = store.tag_ids(f"T{t}" for t in range(TAGS))
        tag_ids = [ids[f"T{i % TAGS}"] for i in range(ROWS)]
        ts = np.arange(first * ROWS, (first + 1) * ROWS, dtype=np.int64)
        store.append_arrays(ts, tag_ids, batch_values(first, ROWS), np.full(ROWS, 2))
    finally:
        store.close()
    assert _batches_in(path) == set(range(first + 1))


# ---- a full disk --------------------------------------------------------------------------


def _diag(child: Child) -> dict[str, Any]:
    line = child.ask("diag", "diag ")
    return {k.removeprefix("_diag.history."): v for k, v in json.loads(line[5:]).items()}


def _wait_diag(child: Child, ok: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
    """Ask for the diagnostics until `ok(diag)`; fail after 10 s."""
    last: dict[str, Any] = {}

    def check() -> bool:
        nonlocal last
        last = _diag(child)
        return ok(last)

    try:
        wait_until(check, 10, what)
    except pytest.fail.Exception:
        pytest.fail(f"{what}: last diagnostics {last}\n{child.stderr()}")
    return last


@pytest.mark.parametrize(
    ("checkpoint", "queue"),
    [
        # a commit fails writing the WAL: DuckDB rolls it back, the connection stays usable
        pytest.param("auto", 1000, id="wal-write-fails"),
        # every commit of 8000+ rows checkpoints straight into the file; failing, that
        # invalidates the database (FatalException) and the writer must reopen it
        pytest.param("every", 20_000, id="checkpoint-fails"),
    ],
)
def test_a_full_disk_keeps_the_newest_values_until_writing_works_again(
    tmp_path: Path, children: list[Child], checkpoint: str, queue: int
) -> None:
    path = tmp_path / "history" / "station.duckdb"
    child = Child("service", str(path), str(queue), checkpoint)
    children.append(child)
    child.expect("ready")
    child.ask("feed 100", "fed 100")
    _wait_diag(child, lambda d: d["written"] == 100 and d["online"], "first values written")
    child.ask("limit 0", "ok")  # no file may grow: EFBIG, as ENOSPC would
    child.ask("feed 1", "fed 101")
    down = _wait_diag(child, lambda d: d["online"] is False, "history offline")
    assert down["errors"] >= 1
    fed = 100 + 2 * queue + 400  # values since the limit: twice the queue and then some
    child.ask(f"feed {fed - 101}", f"fed {fed}", timeout=30)
    # once the attempt under way has put its rows back: the newest kept, the oldest dropped
    dropped = fed - 100 - queue
    full = _wait_diag(child, lambda d: d["dropped"] == dropped, "oldest values dropped")
    assert full["written"] == 100
    assert full["queue_fill"] == 100.0
    # the process runs on and keeps retrying
    _wait_diag(child, lambda d: d["errors"] > full["errors"] + 1, "retries")
    child.ask("unlimit", "ok")
    up = _wait_diag(
        child,
        lambda d: d["online"] and d["written"] == 100 + queue and d["queue_fill"] == 0,
        "caught up",
    )
    assert up["dropped"] == dropped
    if checkpoint == "every":
        assert up["opened"] >= 2, "the invalidated store was reopened"
    else:
        assert up["opened"] == 1, "the connection outlived the failed commits"
    child.ask("stop", "stopped")
    assert child.proc.wait(10) == 0
    log = child.stderr()

    errors = [line for line in log.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1, log
    assert f"history: cannot write {path}: " in errors[0]
    assert "File too large" in errors[0]
    assert f"keeping the newest {queue} values in memory" in errors[0]
    assert "Traceback" not in log
    assert log.count("history: writing again") == 1, log
    store = HistoryStore(path)
    try:
        rows = HistoryReader(store).raw("A", T0_MS / 1000, T0_MS / 1000 + 3600)
    finally:
        store.close()
    expected = [*range(100), *range(fed - queue, fed)]  # the first, the newest kept in memory
    assert [v for _, v, _ in rows] == [float(i) for i in expected]


# ---- a read-only folder -------------------------------------------------------------------


def _block(folder: Path) -> Callable[[], None]:
    """Make `folder` unusable for the history file; returns how to undo it.

    chmod 0o555 stops everyone but root; running as root (containers, CI) a regular file
    where the folder should be makes creating it fail with a clear OS error instead.
    """
    folder.mkdir(parents=True)
    folder.chmod(0o555)
    probe = folder / "probe"
    try:
        probe.touch()
    except PermissionError:
        return lambda: folder.chmod(0o755)
    probe.unlink()  # root: permissions do not apply
    folder.chmod(0o755)
    folder.rmdir()
    folder.write_text("not a folder")
    return folder.unlink


def test_a_read_only_history_folder_queues_values_until_it_can_be_written(
    tmp_path: Path,
    plc: ModbusTestServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("CONDUIT_HOME", str(home))
    (tmp_path / "p").mkdir()
    project = load_project(write_project(tmp_path / "p", plc.port))
    path = history_path(home, project.name)
    unblock = _block(path.parent)
    caplog.set_level(logging.INFO, logger="hmi.history")
    station = Station(project)
    station.history.open_retry = 0.2
    rt = station.runtime

    def diag(name: str) -> Any:
        rt.call(rt.refresh_link_stats()).result(5)
        return rt.store.get(f"_diag.history.{name}").value

    with station:
        writer = station.history.writer
        assert writer is not None
        wait_until(lambda: rt.store.get("S.TT1").good, 10, "values flow")
        wait_until(lambda: writer.queued() > 0, 10, "values queued")
        assert diag("online") is False
        assert diag("written") == 0
        assert diag("queue_fill") > 0
        assert not path.exists()
        unblocked_at = time.time()
        unblock()
        wait_until(lambda: writer.online and writer.queued() == 0, 10, "history writes again")
        assert diag("online") is True
        assert diag("written") > 0
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert errors[0].getMessage().startswith(f"history: cannot open {path}: ")
    assert errors[0].exc_info is None
    assert any("history: writing again" in r.getMessage() for r in caplog.records)
    store = HistoryStore(path)
    try:
        rows = HistoryReader(store).raw("S.TT1", 0, time.time() + 1)
    finally:
        store.close()
    assert rows[0][0] < unblocked_at, "values queued while blocked reached the file"
    assert rows[0][1] == pytest.approx(72.5)


# ---- a file locked by another process -----------------------------------------------------


def test_a_history_file_locked_by_another_process_is_written_once_it_is_free(
    tmp_path: Path, children: list[Child], caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "history" / "station.duckdb"
    path.parent.mkdir()
    holder = Child("append", str(path), "0", "10")  # holds DuckDB's lock on the file
    children.append(holder)
    holder.expect("ready")
    caplog.set_level(logging.INFO, logger="hmi.history")
    service = HistoryService(path, {"A": TagDef("A")}, open_retry=0.1, flush_interval=0.02)
    try:
        assert service.start() is False
        writer = service.writer
        assert writer is not None
        service.on_changes([("A", Value(7.0, Quality.GOOD, recv_ts=T0_MS / 1000))])
        assert service.diagnostics()["_diag.history.online"] is False
        assert service.diagnostics()["_diag.history.queue_fill"] > 0
        holder.close()  # SIGKILL: the lock goes with the process
        wait_until(lambda: writer.online and writer.written == 1, 10, "written once free")
        assert service.diagnostics()["_diag.history.online"] is True
    finally:
        service.stop()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"history: cannot open {path}: Could not set lock on file")
    store = HistoryStore(path)
    try:
        assert HistoryReader(store).raw("A", T0_MS / 1000, T0_MS / 1000 + 1) == [
            (T0_MS / 1000, 7.0, Quality.GOOD)
        ]
    finally:
        store.close()

"""Backup and restore: consistent copies while the station writes, verified and refused restores."""

from __future__ import annotations

import json
import selectors
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Self

import numpy as np
import pytest

from hmi.history.backup import BackupError, Manifest, backup_station
from hmi.history.restore import read_manifest, restore_station, verify_backup
from hmi.history.service import history_path
from hmi.history.store import HistoryStore
from tests.conftest import wait_until

PROJECT = "Demo Plant"
BATCH = 500  # rows per appended batch; a partial batch in a copy is a torn snapshot
SQL_BATCH = 50  # rows per SQLite transaction
DAY_MS = 86_400_000
REPO = Path(__file__).resolve().parents[2]


class Background:
    """A writing thread for `with`: started on entry; stopped, joined and checked on exit."""

    error: BaseException | None = None
    _stop: threading.Event
    _thread: threading.Thread

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        assert not self._thread.is_alive()
        if self.error is not None:
            raise self.error


class Appender(Background):
    """A thread appending numbered batches of BATCH rows through a HistoryStore until stopped."""

    def __init__(self, store: HistoryStore) -> None:
        self.store = store
        self.committed = 0  # batches committed so far
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._tag = store.tag_ids(["Batch"])["Batch"]
        self._thread = threading.Thread(target=self._run, name="conduit-test-appender")

    def _run(self) -> None:
        base = int(time.time() * 1000)
        try:
            while not self._stop.is_set():
                k = self.committed
                self.store.append_arrays(
                    base + k * BATCH + np.arange(BATCH),
                    np.full(BATCH, self._tag),
                    np.full(BATCH, float(k)),
                    np.full(BATCH, 2),
                )
                self.committed = k + 1
        except BaseException as exc:  # reported by stop()
            self.error = exc


class SqliteWriter(Background):
    """A thread writing numbered transactions of SQL_BATCH rows into a WAL-mode SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS msg (batch INTEGER, n INTEGER, body BLOB)")
        db.commit()
        db.close()
        self.committed = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="conduit-test-sqlite")

    def _run(self) -> None:
        db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
        try:
            while not self._stop.is_set():
                k = self.committed
                db.execute("BEGIN IMMEDIATE")
                db.executemany(
                    "INSERT INTO msg VALUES (?, ?, randomblob(200))",
                    [(k, i) for i in range(SQL_BATCH)],
                )
                db.execute("COMMIT")
                self.committed = k + 1
        except BaseException as exc:
            self.error = exc
        finally:
            db.close()


def seed(store: HistoryStore, rows: int) -> None:
    """`rows` samples of 20 tags over the two days before yesterday, compacted and rolled up."""
    ids = store.tag_ids([f"Seed{i}" for i in range(20)])
    now_ms = int(time.time() * 1000)
    start = (now_ms // DAY_MS - 3) * DAY_MS
    i = np.arange(rows)
    store.append_arrays(
        start + i * (2 * DAY_MS // rows),
        np.array(list(ids.values()))[i % 20],
        np.sin(i / 1000.0) * 50.0,
        np.where(i % 97 == 0, 0, 2),
    )
    store.rollup(now_ms)
    store.compact(start + DAY_MS + 1)  # the first day goes to the sorted archive


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def store(data_dir: Path) -> Iterator[HistoryStore]:
    path = history_path(data_dir, PROJECT)
    path.parent.mkdir(parents=True)
    s = HistoryStore(path)
    yield s
    s.close()


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    p = tmp_path / "project"
    (p / "tags").mkdir(parents=True)
    (p / "project.toml").write_text('name = "Demo Plant"\n')
    (p / "tags" / "plant.toml").write_text("[Tank.Level]\nunit = 'm'\n")
    (p / "logo.bin").write_bytes(b"\x89PNG\0\0binary")
    (p / ".git").mkdir()
    (p / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return p


def spool(data_dir: Path) -> Path:
    return data_dir / "spool" / "demo-plant-broker.sqlite"


def batch_sizes(path: Path) -> dict[int, int]:
    """Rows per appended batch number in a history file."""
    s = HistoryStore(path)
    try:
        tag = s.known_id("Batch")
        cur = s.cursor()
        try:
            rows = cur.execute(
                "SELECT value, count(*) FROM raw WHERE tag_id = ? GROUP BY value", [tag]
            ).fetchall()
        finally:
            cur.close()
    finally:
        s.close()
    return {int(v): int(n) for v, n in rows}


def test_backup_while_writing_restores_whole_batches(
    store: HistoryStore, data_dir: Path, tmp_path: Path, project_dir: Path
) -> None:
    seed(store, 2_000_000)
    seeded = store.row_count()
    sql_path = spool(data_dir)
    with Appender(store) as appender, SqliteWriter(sql_path) as writer:
        wait_until(lambda: appender.committed >= 5 and writer.committed >= 5, what="writers")
        before = appender.committed
        manifest = backup_station(
            tmp_path / "backup",
            data_dir,
            PROJECT,
            store=store,
            sqlite_files=[sql_path],
            project_dir=project_dir,
        )
        during = appender.committed - before
        wait_until(lambda: appender.committed >= before + during + 2, what="appends after")
    # appends went on while the copy ran: the backup did not hold the store's lock
    assert during >= 3, f"only {during} batches were appended during the backup"
    assert store.row_count() == seeded + appender.committed * BATCH

    restored = tmp_path / "restored"
    result = restore_station(tmp_path / "backup", restored, PROJECT)
    target = history_path(restored, PROJECT)
    assert set(result.restored) == {target, restored / "spool" / sql_path.name}
    assert result.moved_aside == ()

    sizes = batch_sizes(target)
    assert sizes, "no appended batch in the backup"
    assert set(sizes.values()) == {BATCH}, "a batch was copied in part"
    assert sorted(sizes) == list(range(len(sizes))), "batches are missing in the middle"
    assert before <= len(sizes) <= appender.committed
    s = HistoryStore(target)
    try:
        assert s.row_count() == manifest.history_rows == seeded + len(sizes) * BATCH
        cur = s.cursor()
        try:
            for table in ("raw_live", "raw_archive", "rollup_1m", "rollup_1h", "tags"):
                found = cur.execute(f"SELECT count(*) FROM {table}").fetchone()
                assert found is not None
                assert found[0] == manifest.history[table].rows > 0, table  # type: ignore[index]
        finally:
            cur.close()
    finally:
        s.close()

    db = sqlite3.connect(restored / "spool" / sql_path.name)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        counts = db.execute("SELECT batch, count(*) FROM msg GROUP BY batch").fetchall()
    finally:
        db.close()
    assert counts and {n for _, n in counts} == {SQL_BATCH}
    assert [b for b, _ in counts] == list(range(len(counts)))

    # the project's text files, not hidden or binary ones, are in the backup
    paths = {f.path for f in manifest.files}
    assert {"project/project.toml", "project/tags/plant.toml"} <= paths
    assert not any("logo.bin" in p or ".git" in p for p in paths)
    assert manifest == read_manifest(tmp_path / "backup")


def test_backup_neither_waits_for_nor_sees_an_append_in_flight(
    store: HistoryStore, data_dir: Path, tmp_path: Path
) -> None:
    store.append([("A", 1_000, 1.0, 2), ("A", 2_000, 2.0, 2)])
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(backup_station(tmp_path / "bk", data_dir, PROJECT, store=store))
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run, name="conduit-test-backup")
    # white box: an append holds the store's lock and has an open transaction meanwhile
    with store._lock:
        store._conn.begin()
        try:
            store._conn.execute("INSERT INTO raw_live VALUES (3000, 1, 3.0, 2)")
            worker.start()
            worker.join(30)
            finished = not worker.is_alive()
        finally:
            store._conn.commit()
    worker.join(60)
    assert finished, "the backup waited for the append in flight"
    assert not worker.is_alive()
    manifest = outcome[0]
    assert not isinstance(manifest, BaseException), manifest
    assert isinstance(manifest, Manifest)
    assert manifest.history_rows == 2  # the uncommitted row is not in the backup
    assert store.row_count() == 3


def test_manifest_describes_every_file(store: HistoryStore, data_dir: Path, tmp_path: Path) -> None:
    store.append([("A", 1_000, 1.0, 2), ("A", 5_000, 2.0, 0), ("B", 3_000, None, 0)])
    manifest = backup_station(tmp_path / "bk", data_dir, PROJECT, store=store)
    doc = json.loads((tmp_path / "bk" / "manifest.json").read_text())
    assert doc["version"] == 1 and doc["project"] == PROJECT and doc["host"]
    assert doc["created"].endswith("+00:00")
    assert doc["history"]["raw"] == {"rows": 3, "min_ts": 1_000, "max_ts": 5_000}
    assert [f["path"] for f in doc["files"]] == ["history.duckdb"]
    assert doc["files"][0]["size"] == (tmp_path / "bk" / "history.duckdb").stat().st_size
    assert manifest.history_rows == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bk", "data"]  # no partial folder


def test_offline_backup_and_restore_moves_old_files_aside(
    store: HistoryStore, data_dir: Path, tmp_path: Path, project_dir: Path
) -> None:
    store.append([("A", 1_000, 1.0, 2), ("A", 2_000, 2.0, 2)])
    store.close()
    SqliteWriter(spool(data_dir))  # creates the file
    manifest = backup_station(
        tmp_path / "bk",
        data_dir,
        PROJECT,
        sqlite_files=[spool(data_dir)],
        project_dir=project_dir,
    )
    assert manifest.history_rows == 2
    # the station runs on: more history, a stale WAL, a changed project
    s = HistoryStore(history_path(data_dir, PROJECT))
    s.append([("A", 3_000, 3.0, 2)])
    s.close()
    wal = Path(f"{history_path(data_dir, PROJECT)}.wal")
    wal.write_bytes(b"stale")
    (project_dir / "project.toml").write_text('name = "Changed"\n')

    result = restore_station(tmp_path / "bk", data_dir, PROJECT)
    aside = {p.name.split(".before-restore-")[0] for p in result.moved_aside}
    assert aside == {"demo-plant.duckdb", "demo-plant.duckdb.wal", "demo-plant-broker.sqlite"}
    assert not wal.exists()
    assert all(p.exists() for p in result.moved_aside)
    s = HistoryStore(history_path(data_dir, PROJECT))
    try:
        assert s.row_count() == 2
    finally:
        s.close()
    # the project folder is left alone unless asked for
    assert (project_dir / "project.toml").read_text() == 'name = "Changed"\n'
    first = result
    result = restore_station(tmp_path / "bk", data_dir, PROJECT, project_dir=project_dir)
    # a second restore (in the same second) keeps what the first moved aside
    assert all(p.exists() for p in (*first.moved_aside, *result.moved_aside))
    assert not set(first.moved_aside) & set(result.moved_aside)
    assert (project_dir / "project.toml").read_text() == 'name = "Demo Plant"\n'
    assert (project_dir / "tags" / "plant.toml").exists()
    assert not (project_dir / "logo.bin").exists()
    old = [p for p in result.moved_aside if p.name.startswith("project.before-restore-")]
    assert len(old) == 1 and (old[0] / "logo.bin").exists()


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda bk: flip_byte(bk / "history.duckdb", 5000), "checksum of history.duckdb"),
        (
            lambda bk: flip_byte(bk / "data/spool/demo-plant-broker.sqlite", 100),
            "checksum of data/spool/demo-plant-broker.sqlite",
        ),
        (lambda bk: (bk / "history.duckdb").unlink(), "history.duckdb is missing"),
        (lambda bk: (bk / "project/project.toml").write_text("x"), "project/project.toml has 1"),
        (lambda bk: (bk / "manifest.json").unlink(), "cannot read manifest.json"),
    ],
)
def test_restore_refuses_a_damaged_backup(
    store: HistoryStore,
    data_dir: Path,
    tmp_path: Path,
    project_dir: Path,
    damage: Callable[[Path], None],
    message: str,
) -> None:
    store.append([("A", 1_000, 1.0, 2)])
    SqliteWriter(spool(data_dir))
    bk = tmp_path / "bk"
    backup_station(
        bk, data_dir, PROJECT, store=store, sqlite_files=[spool(data_dir)], project_dir=project_dir
    )
    store.close()
    verify_backup(bk)
    damage(bk)
    target = tmp_path / "fresh"
    with pytest.raises(BackupError, match=message):
        restore_station(bk, target, PROJECT)
    assert not target.exists()  # nothing was touched


HOLDER = """
import sys
from pathlib import Path
from hmi.history.store import HistoryStore
store = HistoryStore(Path(sys.argv[1]))
print("holding", flush=True)
sys.stdin.readline()
store.close()
"""


@pytest.fixture
def other_station(data_dir: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the project's history file open, as a running station does."""
    path = history_path(data_dir, PROJECT)
    path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            assert sel.select(timeout=30), "the holder did not open the history file"
        assert proc.stdout.readline().strip() == "holding"
        yield proc
    finally:
        if proc.stdin is not None:
            proc.stdin.close()  # the holder's readline returns: it closes and exits
        try:
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()


def make_backup(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    history_path(source, PROJECT).parent.mkdir(parents=True)
    s = HistoryStore(history_path(source, PROJECT))
    s.append([("A", 1_000, 1.0, 2)])
    s.close()
    backup_station(tmp_path / "bk", source, PROJECT)
    return tmp_path / "bk"


def test_restore_refuses_while_another_process_holds_the_history(
    data_dir: Path, tmp_path: Path, other_station: subprocess.Popen[str]
) -> None:
    bk = make_backup(tmp_path)
    target = history_path(data_dir, PROJECT)
    with pytest.raises(BackupError, match="stop the station first") as err:
        restore_station(bk, data_dir, PROJECT)
    assert str(target) in str(err.value)
    assert not list(target.parent.glob("*before-restore*"))
    # the offline backup cannot read it either, and says what to do
    with pytest.raises(BackupError, match="take the backup from inside the station"):
        backup_station(tmp_path / "bk2", data_dir, PROJECT)
    assert not (tmp_path / "bk2").exists()
    assert not list(tmp_path.glob(".bk2*"))


def test_restore_refuses_while_this_process_holds_the_history(
    store: HistoryStore, data_dir: Path, tmp_path: Path
) -> None:
    bk = make_backup(tmp_path)
    with pytest.raises(BackupError, match="stop the station first"):
        restore_station(bk, data_dir, PROJECT)
    store.append([("still", 1, 1.0, 2)])  # the open store is untouched
    assert store.row_count() == 1


def test_restore_refuses_a_spool_in_use(data_dir: Path, tmp_path: Path) -> None:
    SqliteWriter(spool(data_dir))
    bk = tmp_path / "bk"
    backup_station(bk, data_dir, PROJECT, sqlite_files=[spool(data_dir)])
    held = sqlite3.connect(spool(data_dir), isolation_level=None)
    try:
        held.execute("PRAGMA locking_mode=EXCLUSIVE")  # as the publisher's spool holds it
        held.execute("BEGIN IMMEDIATE")
        held.execute("COMMIT")
        with pytest.raises(BackupError, match="stop the station first"):
            restore_station(bk, data_dir, PROJECT)
        with pytest.raises(BackupError, match="held open exclusively"):
            backup_station(tmp_path / "bk2", data_dir, PROJECT, sqlite_files=[spool(data_dir)])
    finally:
        held.close()


class ExclusiveSpool:
    """An SQLite file held exclusively by its owner, who copies it on request (a SqliteSource)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA locking_mode=EXCLUSIVE")
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("CREATE TABLE msg (n INTEGER)")
        self.db.executemany("INSERT INTO msg VALUES (?)", [(i,) for i in range(100)])

    def backup_into(self, target: sqlite3.Connection) -> None:
        self.db.backup(target)


def test_a_file_held_exclusively_is_copied_by_its_owner(data_dir: Path, tmp_path: Path) -> None:
    spool(data_dir).parent.mkdir(parents=True)
    owner = ExclusiveSpool(spool(data_dir))
    try:
        backup_station(tmp_path / "bk", data_dir, PROJECT, sqlite_files=[owner])
    finally:
        owner.db.close()
    restore_station(tmp_path / "bk", tmp_path / "fresh", PROJECT)
    db = sqlite3.connect(tmp_path / "fresh" / "spool" / spool(data_dir).name)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT count(*) FROM msg").fetchone() == (100,)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    finally:
        db.close()


def test_backup_refuses_a_used_folder_and_leaves_nothing_on_failure(
    data_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(BackupError, match="not empty"):
        backup_station(tmp_path / "full", data_dir, PROJECT)
    outside = tmp_path / "elsewhere.sqlite"
    sqlite3.connect(outside).close()
    with pytest.raises(BackupError, match="not under the data folder"):
        backup_station(tmp_path / "bk", data_dir, PROJECT, sqlite_files=[outside])
    assert not (tmp_path / "bk").exists()
    assert not list(tmp_path.glob(".bk*"))
    (tmp_path / "empty").mkdir()
    assert backup_station(tmp_path / "empty", data_dir, PROJECT).history is None


def test_restore_replaces_damaged_files(data_dir: Path, tmp_path: Path) -> None:
    bk = make_backup(tmp_path)
    target = history_path(data_dir, PROJECT)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not a database" * 1000)
    result = restore_station(bk, data_dir, PROJECT)
    assert [p.read_bytes()[:14] for p in result.moved_aside] == [b"not a database"]
    s = HistoryStore(target)
    try:
        assert s.row_count() == 1
    finally:
        s.close()


def test_restore_refuses_another_projects_backup(data_dir: Path, tmp_path: Path) -> None:
    bk = make_backup(tmp_path)
    with pytest.raises(BackupError, match="is of project 'Demo Plant', not 'Other'"):
        restore_station(bk, data_dir, "Other")
    with pytest.raises(BackupError, match="holds no project folder"):
        restore_station(bk, data_dir, PROJECT, project_dir=tmp_path / "p")

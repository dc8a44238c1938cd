"""Backup of a station's stored data: history, SQLite files and the project folder.

A backup is a folder: `history.duckdb` (a consistent copy of the history file), `data/...` (each
SQLite file, at its path relative to the data folder), `project/...` (the project folder's text
files) and `manifest.json` (format version, time, host, project, size and SHA-256 of every file,
row counts and time range of each history table). It is written under a hidden temporary name
and renamed at the end, so a half-done backup never looks complete.

The history copy reads one DuckDB snapshot (a transaction on a cursor of the live store, or a
read-only connection when no station runs) and streams it as Arrow batches into a new DuckDB
file opened by a separate database instance: appends go on while it runs, and the new file's
commit never waits on, nor holds up, the station's. SQLite files are copied with the online
backup API. This module never writes to the live files; `hmi.history.restore` puts a backup back.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

import duckdb

from hmi.history.service import history_path
from hmi.history.store import HistoryStore

__all__ = [
    "FORMAT_VERSION",
    "BackupError",
    "FileEntry",
    "Manifest",
    "SqliteSource",
    "TableSummary",
    "backup_station",
    "backup_summary",
]

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
HISTORY_FILE = "history.duckdb"
DATA_DIR = "data"
PROJECT_DIR = "project"
_BATCH_ROWS = 1 << 20  # rows per Arrow batch while copying history
_SQLITE_BUSY_TIMEOUT = 5.0  # seconds to wait for a locked SQLite file
_SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")
_DUCKDB_COMPANIONS = (".wal",)


class BackupError(Exception):
    """A backup or restore that cannot be done, with what to do about it."""


class SqliteSource(Protocol):
    """An SQLite file its owner holds open exclusively and copies on request (a live spool)."""

    @property
    def path(self) -> Path:
        """The file's path (under the data folder)."""
        ...

    def backup_into(self, target: sqlite3.Connection) -> None:
        """Copy the database into `target` with `sqlite3.Connection.backup`."""
        ...


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file of a backup: its path in the backup folder (POSIX), size and SHA-256."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class TableSummary:
    """Rows of one history table and, for tables with a `ts` column, its epoch-ms range."""

    rows: int
    min_ts: int | None = None
    max_ts: int | None = None


@dataclass(frozen=True, slots=True)
class Manifest:
    """What a backup holds; written as `manifest.json`."""

    version: int
    created: str  # UTC, ISO 8601
    host: str
    project: str
    files: tuple[FileEntry, ...]
    # per table and view of the history (`raw` is the view over all raw samples);
    # None: the backup has no history file
    history: dict[str, TableSummary] | None = None
    project_included: bool = False

    @property
    def history_rows(self) -> int:
        """Raw samples in the backup's history (the `raw` view; 0 without history)."""
        raw = (self.history or {}).get("raw")
        return 0 if raw is None else raw.rows

    def to_json(self) -> str:
        """The manifest as indented JSON."""
        doc: dict[str, Any] = {
            "format": "conduit-hmi-backup",
            "version": self.version,
            "created": self.created,
            "host": self.host,
            "project": self.project,
            "project_included": self.project_included,
            "history": None
            if self.history is None
            else {
                name: {"rows": t.rows, "min_ts": t.min_ts, "max_ts": t.max_ts}
                for name, t in self.history.items()
            },
            "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in self.files],
        }
        return json.dumps(doc, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, where: Path) -> Manifest:
        """Parse a manifest; BackupError naming `where` when it is not one."""
        try:
            doc = json.loads(text)
            if doc.get("format") != "conduit-hmi-backup":
                raise ValueError("not a Conduit HMI backup manifest")
            version = int(doc["version"])
            if version > FORMAT_VERSION:
                raise ValueError(
                    f"format version {version} is newer than this program reads "
                    f"({FORMAT_VERSION}); restore with a newer Conduit HMI"
                )
            history = doc.get("history")
            return cls(
                version=version,
                created=str(doc["created"]),
                host=str(doc["host"]),
                project=str(doc["project"]),
                project_included=bool(doc.get("project_included", False)),
                files=tuple(
                    FileEntry(str(f["path"]), int(f["size"]), str(f["sha256"]))
                    for f in doc["files"]
                ),
                history=None
                if history is None
                else {
                    str(name): TableSummary(int(t["rows"]), t.get("min_ts"), t.get("max_ts"))
                    for name, t in history.items()
                },
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackupError(f"{where}: unreadable backup manifest ({exc})") from None


# ---- backup --------------------------------------------------------------------------------


def backup_station(
    dest: Path,
    data_dir: Path,
    project_name: str,
    *,
    store: HistoryStore | None = None,
    sqlite_files: Sequence[Path | SqliteSource] = (),
    project_dir: Path | None = None,
) -> Manifest:
    """Write a consistent backup of a station's data into the new folder `dest`.

    With `store` (the running station's open history) the copy is taken from it without
    holding up appends; without it the history file is opened read-only, which fails while
    another process holds it. `sqlite_files` must lie under `data_dir`; a file its owner holds
    exclusively (a live spool) is passed as a `SqliteSource`.
    """
    dest = Path(dest)
    data_dir = Path(data_dir)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"backup folder {dest} already exists and is not empty; choose a new one")
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = dest.parent / f".{dest.name}.partial-{os.getpid()}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    try:
        history = _backup_history(work / HISTORY_FILE, data_dir, project_name, store)
        for source in sqlite_files:
            _backup_sqlite(source, data_dir, work)
        if project_dir is not None:
            _copy_project(Path(project_dir), work / PROJECT_DIR)
        manifest = Manifest(
            version=FORMAT_VERSION,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            host=socket.gethostname(),
            project=project_name,
            files=tuple(_entry(work, p) for p in sorted(_files_under(work))),
            history=history,
            project_included=project_dir is not None,
        )
        _write_atomic(work / MANIFEST, manifest.to_json().encode())
        if dest.exists():
            dest.rmdir()  # empty, checked above
        os.replace(work, dest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return manifest


def _backup_history(
    target: Path, data_dir: Path, project_name: str, store: HistoryStore | None
) -> dict[str, TableSummary] | None:
    """Copy the history (live store or file) into `target`; its table summaries, or None."""
    if store is not None:
        cur = store.cursor()
        try:
            return _copy_duckdb(cur, target)
        finally:
            cur.close()
    source = history_path(data_dir, project_name)
    if not source.exists():
        return None
    try:
        conn = duckdb.connect(str(source), read_only=True)
    except duckdb.Error as exc:
        raise BackupError(
            f"history {source} is in use by a running station ({_first_line(exc)}): "
            "take the backup from inside the station, or stop the station first"
        ) from None
    try:
        return _copy_duckdb(conn, target)
    finally:
        conn.close()


def _copy_duckdb(cur: duckdb.DuckDBPyConnection, target: Path) -> dict[str, TableSummary]:
    """Copy one snapshot of `cur`'s database into a new file; rows and ts range per relation.

    Tables are streamed as Arrow batches, then indexes and views are created from their DDL.
    """
    cur.execute("BEGIN TRANSACTION")
    try:
        found = cur.execute("SELECT current_database()").fetchone()
        db = str(found[0]) if found else "main"
        # the first read of the database fixes the snapshot every later read sees
        tables = cur.execute(
            "SELECT schema_name, table_name, sql FROM duckdb_tables()"
            " WHERE database_name = ? AND NOT internal ORDER BY table_oid",
            [db],
        ).fetchall()
        views = cur.execute(
            "SELECT schema_name, view_name, sql FROM duckdb_views()"
            " WHERE database_name = ? AND NOT internal ORDER BY view_oid",
            [db],
        ).fetchall()
        indexes = cur.execute(
            "SELECT sql FROM duckdb_indexes() WHERE database_name = ? AND sql IS NOT NULL",
            [db],
        ).fetchall()
        out = duckdb.connect(str(target))
        try:
            out.execute("SET enable_progress_bar = false")
            for schema, name, ddl in tables:
                qualified = f"{_ident(schema)}.{_ident(name)}"
                if schema != "main":
                    out.execute(f"CREATE SCHEMA IF NOT EXISTS {_ident(schema)}")
                out.execute(ddl)
                reader = cur.sql(f"SELECT * FROM {qualified}").to_arrow_reader(_BATCH_ROWS)
                out.register("_backup_source", reader)
                try:
                    out.execute(f"INSERT INTO {qualified} SELECT * FROM _backup_source")
                finally:
                    out.unregister("_backup_source")
            for (ddl,) in indexes:
                out.execute(ddl)
            for _, _, ddl in views:
                out.execute(ddl)
            summary = {
                name if schema == "main" else f"{schema}.{name}": _summarise(
                    out, f"{_ident(schema)}.{_ident(name)}"
                )
                for schema, name, _ in (*tables, *views)
            }
            out.execute("CHECKPOINT")
        finally:
            out.close()
    finally:
        cur.execute("ROLLBACK")  # the transaction only read
    return summary


def _summarise(conn: duckdb.DuckDBPyConnection, qualified: str) -> TableSummary:
    """Row count of a table and, when it has a `ts` column, min and max ts."""
    columns = {str(c[0]) for c in conn.execute(f"DESCRIBE {qualified}").fetchall()}
    if "ts" in columns:
        row = conn.execute(f"SELECT count(*), min(ts), max(ts) FROM {qualified}").fetchone()
        assert row is not None
        lo, hi = row[1], row[2]
        return TableSummary(
            int(row[0]), None if lo is None else int(lo), None if hi is None else int(hi)
        )
    row = conn.execute(f"SELECT count(*) FROM {qualified}").fetchone()
    assert row is not None
    return TableSummary(int(row[0]))


def _backup_sqlite(source: Path | SqliteSource, data_dir: Path, work: Path) -> None:
    """Copy one SQLite file with the online backup API to `data/<path relative to data_dir>`."""
    path = source if isinstance(source, Path) else Path(source.path)
    try:
        rel = path.resolve().relative_to(data_dir.resolve())
    except ValueError:
        raise BackupError(f"{path} is not under the data folder {data_dir}") from None
    target = work / DATA_DIR / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    out = sqlite3.connect(target)
    try:
        if isinstance(source, Path):
            if not path.is_file():
                raise BackupError(f"{path} does not exist (nothing to back up)")
            src = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            try:
                src.backup(out, progress=_give_up_after(_SQLITE_BUSY_TIMEOUT))
            except (sqlite3.OperationalError, TimeoutError) as exc:
                raise BackupError(
                    f"{path} is held open exclusively ({exc}): take the backup from inside "
                    "the station that owns it, or stop the station first"
                ) from None
            finally:
                src.close()
        else:
            source.backup_into(out)
        out.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal
    finally:
        out.close()


def _give_up_after(seconds: float) -> Callable[[int, int, int], None]:
    """A backup progress callback that ends a copy still locked out after `seconds`.

    `Connection.backup` retries a locked source forever (a spool held exclusively never
    frees); raising from the callback is the documented way to stop it.
    """
    deadline = time.monotonic() + seconds

    def progress(status: int, remaining: int, total: int) -> None:
        if status in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) and time.monotonic() > deadline:
            raise TimeoutError(f"database is locked ({seconds:g} s)")

    return progress


def _copy_project(source: Path, target: Path) -> None:
    """Copy the text files of a project folder (not hidden entries, not binary files)."""
    if not source.is_dir():
        raise BackupError(f"project folder {source} does not exist")
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        with path.open("rb") as f:
            if b"\0" in f.read(8192):
                continue  # binary
        out = target / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, out)


def _files_under(root: Path) -> Iterator[Path]:
    return (p for p in root.rglob("*") if p.is_file())


def _entry(root: Path, path: Path) -> FileEntry:
    return FileEntry(path.relative_to(root).as_posix(), path.stat().st_size, _sha256(path))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _safe_rel(rel: str, src: Path) -> Path:
    """A manifest path as a relative path that stays inside the backup folder."""
    p = PurePosixPath(rel)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise BackupError(f"backup {src}: manifest names a path outside the backup ({rel!r})")
    return Path(*p.parts)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    _fsync(tmp)
    os.replace(tmp, path)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def backup_summary(dest: Path, manifest: Manifest) -> dict[str, Any]:
    """What a person wants to know of a finished backup, JSON-ready."""
    return {
        "dest": str(dest),
        "files": len(manifest.files),
        "bytes": sum(f.size for f in manifest.files),
        "history_rows": manifest.history_rows,
        "project_included": manifest.project_included,
    }

"""Verify a backup folder and restore it in place of a stopped station's files.

Every file is checked against the manifest's size and SHA-256 first; the files to replace must
not be in use (a running station holds them); they are moved aside as
`<name>.before-restore-<UTC time>` and the backup's copies, staged under temporary names,
are renamed into place.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import duckdb

from hmi.history.backup import (
    _DUCKDB_COMPANIONS,
    _SQLITE_COMPANIONS,
    DATA_DIR,
    HISTORY_FILE,
    MANIFEST,
    PROJECT_DIR,
    BackupError,
    Manifest,
    _first_line,
    _fsync,
    _safe_rel,
    _sha256,
)
from hmi.history.service import history_path
from hmi.resources import slug

__all__ = ["RestoreResult", "read_manifest", "restore_station", "verify_backup"]


@dataclass(frozen=True, slots=True)
class RestoreResult:
    """Files a restore put in place, and where the files they replaced were moved."""

    restored: tuple[Path, ...]
    moved_aside: tuple[Path, ...] = field(default_factory=tuple)
    manifest: Manifest | None = None


# ---- verify and restore ---------------------------------------------------------------------


def read_manifest(src: Path) -> Manifest:
    """The manifest of the backup folder `src`."""
    path = Path(src) / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BackupError(
            f"{src} is not a complete backup: cannot read {MANIFEST} ({exc})"
        ) from None
    return Manifest.from_json(text, path)


def verify_backup(src: Path) -> Manifest:
    """Check that every file of the manifest is present with its size and SHA-256."""
    src = Path(src)
    manifest = read_manifest(src)
    listed: set[str] = set()
    for entry in manifest.files:
        path = src / _safe_rel(entry.path, src)
        listed.add(entry.path)
        if not path.is_file():
            raise BackupError(f"backup {src} is incomplete: {entry.path} is missing")
        size = path.stat().st_size
        if size != entry.size:
            raise BackupError(
                f"backup {src} is damaged: {entry.path} has {size} bytes, the manifest says "
                f"{entry.size}"
            )
        if _sha256(path) != entry.sha256:
            raise BackupError(
                f"backup {src} is damaged: checksum of {entry.path} does not match the manifest"
            )
    if manifest.history is not None and HISTORY_FILE not in listed:
        raise BackupError(f"backup {src} is incomplete: {HISTORY_FILE} is not in the manifest")
    return manifest


def restore_station(
    src: Path,
    data_dir: Path,
    project_name: str,
    *,
    project_dir: Path | None = None,
) -> RestoreResult:
    """Put a verified backup's files in place of a stopped station's; the files restored.

    Files that are replaced (and their -wal/-shm companions) are renamed
    `<name>.before-restore-<UTC time>`. The project folder is restored only when
    `project_dir` is given; the existing folder is then moved aside the same way.
    """
    src, data_dir = Path(src), Path(data_dir)
    manifest = verify_backup(src)
    if slug(manifest.project) != slug(project_name):
        raise BackupError(
            f"backup {src} is of project {manifest.project!r}, not {project_name!r}; "
            "restore it for the project it was taken from"
        )
    if project_dir is not None and not manifest.project_included:
        raise BackupError(f"backup {src} holds no project folder to restore")
    plan: list[tuple[Path, Path]] = []  # (file in backup, target)
    for entry in manifest.files:
        rel = PurePosixPath(entry.path)
        if entry.path == HISTORY_FILE:
            plan.append((src / HISTORY_FILE, history_path(data_dir, project_name)))
        elif rel.parts[0] == DATA_DIR:
            plan.append((src / entry.path, data_dir.joinpath(*rel.parts[1:])))
    _refuse_if_in_use([target for _, target in plan])
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    staged: list[tuple[Path, Path]] = []
    staged_project: Path | None = None
    try:
        for source, target in plan:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.restoring")
            shutil.copyfile(source, tmp)
            _fsync(tmp)
            staged.append((tmp, target))
        staged_project = _stage_project(src, project_dir, stamp) if project_dir else None
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        if project_dir is not None:
            shutil.rmtree(_staging(project_dir, stamp), ignore_errors=True)
        raise
    moved: list[Path] = []
    restored: list[Path] = []
    for tmp, target in staged:
        companions = _DUCKDB_COMPANIONS if target.suffix == ".duckdb" else _SQLITE_COMPANIONS
        for suffix in ("", *companions):
            old = Path(f"{target}{suffix}")
            if old.exists():
                aside = _aside(old, stamp)
                os.replace(old, aside)
                moved.append(aside)
        os.replace(tmp, target)
        restored.append(target)
    if project_dir is not None and staged_project is not None:
        if project_dir.exists():
            aside = _aside(project_dir, stamp)
            os.replace(project_dir, aside)
            moved.append(aside)
        os.replace(staged_project, project_dir)
        restored.append(project_dir)
    return RestoreResult(tuple(restored), tuple(moved), manifest)


def _stage_project(src: Path, project_dir: Path, stamp: str) -> Path:
    """Copy the backup's project folder next to `project_dir` under a temporary name."""
    tmp = _staging(project_dir, stamp)
    if tmp.exists():
        shutil.rmtree(tmp)
    shutil.copytree(src / PROJECT_DIR, tmp)
    return tmp


def _staging(project_dir: Path, stamp: str) -> Path:
    return project_dir.with_name(f".{project_dir.name}.restoring-{stamp}")


def _aside(path: Path, stamp: str) -> Path:
    """`<path>.before-restore-<stamp>`, numbered when a restore this second already used it."""
    aside = Path(f"{path}.before-restore-{stamp}")
    n = 2
    while aside.exists():
        aside = Path(f"{path}.before-restore-{stamp}-{n}")
        n += 1
    return aside


def _refuse_if_in_use(targets: Sequence[Path]) -> None:
    """BackupError when a running station holds one of the target files."""
    for target in targets:
        if not target.exists():
            continue
        if target.suffix == ".duckdb":
            _check_duckdb_free(target)
        else:
            _check_sqlite_free(target)


def _check_duckdb_free(path: Path) -> None:
    try:
        # read-only: fails on another process's lock, and on a different-configuration
        # connection this process holds (a HistoryStore)
        conn = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        if _in_use(exc):
            raise _stop_first(path, exc) from None
        return  # unreadable (damaged): restoring replaces it
    conn.close()


def _check_sqlite_free(path: Path) -> None:
    try:
        conn = sqlite3.connect(path, timeout=0.5)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
        finally:
            conn.close()
    except sqlite3.Error as exc:
        if _in_use(exc):
            raise _stop_first(path, exc) from None
        # not a database (damaged): restoring replaces it


def _in_use(exc: BaseException) -> bool:
    """Whether an open error means another connection holds the file."""
    text = str(exc).lower()
    return any(word in text for word in ("lock", "busy", "different configuration"))


def _stop_first(path: Path, exc: BaseException) -> BackupError:
    return BackupError(
        f"{path} is in use by a running station ({_first_line(exc)}): "
        "stop the station first, then restore"
    )


# ---- small pieces ---------------------------------------------------------------------------

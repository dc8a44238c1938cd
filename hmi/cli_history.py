"""`conduit history`, `export`, `backup`, `restore`: a station's stored data from the shell.

When the project's station runs on this machine the request goes to it (it holds the history
file); otherwise the file is opened here. Both give the same answer. `restore` runs only while
the station is stopped.
"""

from __future__ import annotations

import argparse
import getpass
import json
import math
import os
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drivers.base import parse_duration
from hmi.audit.trail import AuditTrail
from hmi.control import ControlError, NotRunning, request
from hmi.db import open_database
from hmi.history.answers import ANSWERS
from hmi.history.backup import BackupError, backup_station, backup_summary
from hmi.history.restore import restore_station
from hmi.history.service import history_path
from hmi.history.store import HistoryStore
from hmi.project import load_project
from hmi.publish_config import spool_path
from hmi.resources import data_home, slug

__all__ = ["CliError", "add_history_commands", "ask_history", "guarded", "parse_when"]


class CliError(Exception):
    """A command-line mistake or an unavailable resource; the message says what to do."""


def parse_when(text: str, now: float) -> float:
    """Epoch seconds from 'now', '-8h' / '-7d' (before now), ISO 8601 (local time) or a number."""
    text = text.strip()
    if text == "now":
        return now
    if text.startswith("-"):
        try:
            return now - parse_duration(text[1:])
        except ValueError as exc:
            raise CliError(str(exc)) from None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).timestamp()  # naive: local time
    except ValueError:
        raise CliError(
            f"bad time {text!r} (expected 'now', '-8h', '-7d', 2026-11-22 or 2026-11-22T06:00)"
        ) from None


def ask_history(project_dir: Path, op: str, args: Mapping[str, Any]) -> Any:
    """Answer a history question through the running station, or from the file if none runs."""
    project = load_project(project_dir)
    data_dir = data_home()
    try:
        return request(data_dir, project.name, op, args)
    except NotRunning:
        pass
    except ControlError as exc:
        raise CliError(str(exc)) from None
    path = history_path(data_dir, project.name)
    if not path.exists():
        raise CliError(f"no history recorded yet for {project.name!r} ({path} does not exist)")
    try:
        store = HistoryStore(path)
    except Exception as exc:  # e.g. held by a station this user cannot reach
        raise CliError(f"cannot open {path}: {exc}") from None
    try:
        return ANSWERS[op](store, args)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    finally:
        store.close()


def _when_args(p: argparse.ArgumentParser, default_from: str = "-1h") -> None:
    when = "ISO 8601 local time (2026-11-22T06:00), epoch seconds, now, or --from=-8h / -7d"
    p.add_argument("--from", dest="start", default=default_from, help=f"{when}; default 1 h ago")
    p.add_argument("--to", dest="end", default="now", help="as --from; default now")


def _span(args: argparse.Namespace) -> tuple[float, float]:
    now = time.time()
    start, end = parse_when(args.start, now), parse_when(args.end, now)
    if end <= start:
        raise CliError("--to must be after --from")
    return start, end


def _stamp(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="milliseconds")


def _number(v: float | None) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.6g}"


def cmd_history(args: argparse.Namespace) -> int:
    """Print raw samples, or min/max/avg buckets with --buckets, of tags over a time range."""
    start, end = _span(args)
    request_args: dict[str, Any] = {"tags": args.tags, "start": start, "end": end}
    if args.buckets:
        request_args["buckets"] = args.buckets
        result = ask_history(args.project, "history.trend", request_args)
    else:
        request_args["limit"] = args.limit
        result = ask_history(args.project, "history.raw", request_args)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    for tag in args.tags:
        data = result.get(tag)
        if args.buckets:
            n = len(data["bucket_start"]) if data else 0
            print(f"{tag}: {n} buckets")
            for i in range(n):
                cells = "  ".join(
                    f"{name} {_number(data[name][i])}" for name in ("min", "max", "avg", "last")
                )
                print(f"  {_stamp(data['bucket_start'][i])}  {cells}")
        else:
            rows = data or []
            print(f"{tag}: {len(rows)} samples")
            for ts, value, quality in rows:
                print(f"  {_stamp(ts)}  {_number(value):>12}  {quality}")
    return 0


def _audit_export(tags: list[str], request: Mapping[str, Any]) -> None:
    """Record the export in the audit trail first; CliError (no export) when it cannot be."""
    engine = open_database(os.environ.get("CONDUIT_DATABASE") or None, data_home())
    try:
        AuditTrail(engine).record(
            user=f"os:{getpass.getuser()}",
            action="report.export",
            target=",".join(tags)[:200],
            new=str(request["dest"]),
            reason=f"{request['format']} {_stamp(request['start'])} .. {_stamp(request['end'])}",
        )
    except Exception as exc:
        raise CliError(f"export refused: the audit trail could not record it ({exc})") from None
    finally:
        engine.dispose()


def cmd_export(args: argparse.Namespace) -> int:
    """Write tags' history (raw, or --buckets) to a parquet, csv or xlsx file."""
    start, end = _span(args)
    out = args.out or Path(f"{'-'.join(args.tags)[:60]}.{args.format}".replace("/", "_"))
    request_args: dict[str, Any] = {
        "tags": args.tags,
        "start": start,
        "end": end,
        "dest": str(Path(out).resolve()),
        "format": args.format,
    }
    if args.buckets:
        request_args["buckets"] = args.buckets
    _audit_export(args.tags, request_args)
    result = ask_history(args.project, "history.export", request_args)
    print(f"{result['rows']:,} rows written to {result['dest']}")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    """Back up history, SQLite files and the project, from the running station or the files."""
    project = load_project(args.project)
    data_dir = data_home()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    dest = Path(args.to or data_dir / "backups" / f"{slug(project.name)}-{stamp}").resolve()
    try:
        summary = request(data_dir, project.name, "station.backup", {"dest": str(dest)})
    except ControlError as exc:
        raise CliError(str(exc)) from None
    except NotRunning:
        spools = (
            []
            if project.publish is None
            else [spool_path(data_dir, project.name, project.publish.device)]
        )
        try:
            manifest = backup_station(
                dest,
                data_dir,
                project.name,
                sqlite_files=[p for p in spools if p.exists()],
                project_dir=project.root,
            )
        except BackupError as exc:
            raise CliError(str(exc)) from None
        summary = backup_summary(dest, manifest)
    print(
        f"backup of {project.name!r} in {summary['dest']}: {summary['files']} files, "
        f"{summary['bytes'] / 1e6:.1f} MB, {summary['history_rows']:,} history samples"
    )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Put a backup in place of the project's data (the station must be stopped)."""
    project = load_project(args.project)
    data_dir = data_home()
    try:
        status = request(data_dir, project.name, "station.status")
    except (NotRunning, ControlError):
        pass
    else:
        raise CliError(
            f"the station of {project.name!r} is running (process {status['pid']}): stop it first"
        )
    try:
        result = restore_station(
            args.backup,
            data_dir,
            project.name,
            project_dir=project.root if args.project_files else None,
        )
    except BackupError as exc:
        raise CliError(str(exc)) from None
    for path in result.restored:
        print(f"restored {path}")
    for path in result.moved_aside:
        print(f"kept the previous file as {path}")
    return 0


def add_history_commands(sub: Any) -> None:
    """Add `history`, `export`, `backup` and `restore` to the `conduit` sub-command parser."""
    p = sub.add_parser("history", help="print tag history (raw samples or min/max buckets)")
    p.add_argument("project", type=Path)
    p.add_argument("tags", nargs="+", metavar="TAG")
    _when_args(p)
    p.add_argument("--buckets", type=int, help="min/max/avg in at most N buckets per tag")
    p.add_argument("--limit", type=int, default=100_000, help="raw samples per tag, at most")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=guarded(cmd_history))

    p = sub.add_parser("export", help="write tag history to a parquet, csv or xlsx file")
    p.add_argument("project", type=Path)
    p.add_argument("--tags", nargs="+", required=True, metavar="TAG")
    _when_args(p)
    p.add_argument("--format", choices=("parquet", "csv", "xlsx"), default="csv")
    p.add_argument("--out", type=Path, help="file to write (default: TAGS.FORMAT here)")
    p.add_argument("--buckets", type=int, help="min/max/avg in at most N buckets per tag")
    p.set_defaults(func=guarded(cmd_export))

    p = sub.add_parser("backup", help="back up history, buffers and the project (also running)")
    p.add_argument("project", type=Path)
    p.add_argument("--to", type=Path, help="new folder (default: DATA/backups/PROJECT-TIME)")
    p.set_defaults(func=guarded(cmd_backup))

    p = sub.add_parser("restore", help="put a backup back (stop the station first)")
    p.add_argument("project", type=Path)
    p.add_argument("backup", type=Path, help="a folder written by `conduit backup`")
    p.add_argument("--project-files", action="store_true", help="restore the project folder too")
    p.set_defaults(func=guarded(cmd_restore))


Command = Callable[[argparse.Namespace], int]


def guarded(func: Command) -> Command:
    """`func` with a CliError turned into a one-line message on stderr and exit status 2."""

    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except CliError as exc:
            print(f"conduit: {exc}", file=sys.stderr)
            return 2

    return run

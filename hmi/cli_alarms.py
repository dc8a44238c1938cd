"""`conduit alarms`: the active alarms of a running station, or the alarm journal.

Active alarms live in the running station's memory, so `--active` asks it through its control
endpoint. The journal is in the relational store, which other processes may read while the
station writes (SQLite in WAL mode, or a server), so `--journal` reads it directly.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from hmi.alarms.journal import query_journal, transition_row
from hmi.alarms.model import Priority
from hmi.cli_history import CliError, guarded, parse_when
from hmi.control import ControlError, NotRunning, request
from hmi.db import open_database
from hmi.project import load_project
from hmi.resources import data_home

__all__ = ["add_alarm_commands"]


def _stamp(ts: float | None) -> str:
    if ts is None:
        return "—"
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def cmd_alarms(args: argparse.Namespace) -> int:
    """Print the active alarms (default) or the journal over a time range."""
    return _journal(args) if args.journal else _active(args)


def _active(args: argparse.Namespace) -> int:
    project = load_project(args.project)
    try:
        views: list[dict[str, Any]] = request(data_home(), project.name, "alarms.active")
    except NotRunning:
        raise CliError(
            f"no station of {project.name!r} is running: active alarms live in the running "
            "station (use --journal for the record)"
        ) from None
    except ControlError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print(json.dumps(views, ensure_ascii=False))
        return 0
    print(f"{len(views)} alarm(s) not normal")
    for v in views:
        name = Priority(v["priority"]).name.lower()
        print(
            f"  {name:<7} {v['state']:<14} {v['id']:<40} {_stamp(v['since'])}  "
            f"{v['text_zh'] if args.zh else v['text_en']}"
        )
    return 0


def _journal(args: argparse.Namespace) -> int:
    project = load_project(args.project)
    now = time.time()
    start, end = parse_when(args.start, now), parse_when(args.end, now)
    engine = open_database(None, data_home())
    try:
        rows = query_journal(engine, start, end, limit=args.limit)
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps([transition_row(t) for t in rows], ensure_ascii=False))
        return 0
    print(f"{len(rows)} journal record(s) of {project.name!r}")
    for t in rows:
        who = f" by {t.user}" if t.user else ""
        note = f" — {t.comment}" if t.comment else ""
        print(f"  {_stamp(t.ts)}  {t.event.value:<20} {t.state.value:<14} {t.alarm}{who}{note}")
    return 0


def add_alarm_commands(sub: Any) -> None:
    """Add `alarms` to the `conduit` sub-command parser."""
    p = sub.add_parser("alarms", help="active alarms of the running station, or the journal")
    p.add_argument("project", type=Path)
    p.add_argument("--active", action="store_true", help="active alarms (the default)")
    p.add_argument("--journal", action="store_true", help="the journal instead")
    p.add_argument("--from", dest="start", default="-24h", help="journal: default 24 h ago")
    p.add_argument("--to", dest="end", default="now", help="journal: default now")
    p.add_argument("--limit", type=int, default=10_000, help="journal records, at most")
    p.add_argument("--zh", action="store_true", help="messages in Chinese")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=guarded(cmd_alarms))

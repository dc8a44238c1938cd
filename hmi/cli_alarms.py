"""`conduit alarms`: the active alarms of a running station, the alarm journal, or its KPIs.

Active alarms live in the running station's memory, so `--active` asks it through its control
endpoint. The journal is in the relational store, which other processes may read while the
station writes (SQLite in WAL mode, or a server), so `--journal` reads it directly.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from hmi.alarms.journal import query_journal, transition_row
from hmi.alarms.kpi import STALE_AFTER, compute
from hmi.alarms.model import Priority
from hmi.alarms.response import ResponseLog
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
    """Print the active alarms (default), the journal or the KPIs over a time range."""
    if args.kpi:
        return _kpis(args)
    return _journal(args) if args.journal else _active(args)


def _minutes(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds / 60:.1f} min"


def _kpis(args: argparse.Namespace) -> int:
    project = load_project(args.project)
    now = time.time()
    start, end = parse_when(args.start, now), parse_when(args.end, now)
    if end <= start:
        raise CliError("--to must be after --from")
    engine = open_database(None, data_home())
    try:
        # stale alarms were activated before the window: look back up to 30 days
        rows = query_journal(engine, start - 30 * STALE_AFTER, end, limit=5_000_000)
        responses = ResponseLog(engine).responses(start, end)
    finally:
        engine.dispose()
    k = compute(rows, start, end, responses)
    if args.json:
        print(json.dumps(asdict(k), ensure_ascii=False))
        return 0
    hours = (end - start) / 3600
    print(f"{project.name}: alarm KPIs {_stamp(start)} .. {_stamp(end)} ({hours:.1f} h)")
    print(f"  activations: {k.activations} ({k.activations / max(hours, 1e-9) / 6:.1f} per 10 min)")
    for r in k.rates:
        print(f"    area {r.area:<12} {r.total:>6}  mean {r.mean:5.1f} / 10 min, peak {r.peak}")
    print(f"  flood (>= 10 in 10 min): {len(k.flood.periods)} period(s), {k.flood.percent:.1f} %")
    print(
        "  priorities: "
        + ", ".join(
            f"{p.priority.name.lower()} {p.activations} ({p.percent:.0f} %)" for p in k.priorities
        )
    )
    resp = k.response
    print(
        f"  acknowledged {resp.acked}/{resp.activations}, mean {_minutes(resp.mean_to_ack)}; "
        f"cleared {resp.cleared}, mean {_minutes(resp.mean_to_clear)}"
    )
    w = k.workflow
    print(
        f"  workflow: {w.occurrences} occurrence(s), dispatched {w.dispatched} "
        f"(ack -> dispatch {_minutes(w.mean_ack_to_dispatch)}), cause {w.with_cause}, "
        f"closed {w.closed} (activation -> closed {_minutes(w.mean_activation_to_closed)})"
    )
    print(f"  bad actors (top {len(k.bad_actors)}):")
    for b in k.bad_actors:
        print(f"    {b.activations:>6} {b.percent:5.1f} %  {b.alarm}")
    print(f"  chattering (>= 3 in 60 s): {len(k.chattering)}")
    for c in k.chattering:
        print(f"    {c.alarm}: {c.activations} activations, {c.most_in_60s} in 60 s at most")
    print(f"  stale (active > 24 h): {len(k.stale)}")
    for st in k.stale:
        print(f"    {st.alarm}: active since {_stamp(st.active_since)}")
    return 0


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
    p.add_argument("--kpi", action="store_true", help="alarm KPIs over --from/--to instead")
    p.add_argument("--from", dest="start", default="-24h", help="journal/KPIs: default 24 h ago")
    p.add_argument("--to", dest="end", default="now", help="journal/KPIs: default now")
    p.add_argument("--limit", type=int, default=10_000, help="journal records, at most")
    p.add_argument("--zh", action="store_true", help="messages in Chinese")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=guarded(cmd_alarms))

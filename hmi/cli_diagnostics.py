"""`conduit diagnostics`: link outages per device and data accuracy per tag, for the
maintenance report. Both are in the relational store, read directly (other processes may read
while the station writes)."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from hmi.cli_history import CliError, guarded
from hmi.db import open_database
from hmi.diagnostics.records import data_accuracy, link_outages, month_of
from hmi.project import load_project
from hmi.resources import data_home

__all__ = ["add_diagnostics_commands"]


def _month_range(month: str) -> tuple[float, float]:
    """Start and end (epoch seconds, station local time) of "YYYY-MM"."""
    try:
        first = datetime.strptime(month, "%Y-%m")
    except ValueError:
        raise CliError(f"--month: expected YYYY-MM (e.g. 2026-11), got {month!r}") from None
    after = (
        first.replace(year=first.year + 1, month=1)
        if first.month == 12
        else (first.replace(month=first.month + 1))
    )
    return first.timestamp(), after.timestamp()


def cmd_diagnostics(args: argparse.Namespace) -> int:
    """Print the month's link outages per device and data accuracy per checked tag."""
    project = load_project(args.project)
    month = args.month or month_of(time.time())
    start, end = _month_range(month)
    engine = open_database(None, data_home())
    try:
        outages = link_outages(engine, start, end, project.devices)
        accuracy = data_accuracy(engine, month, project.diagnostics.signals or None)
    finally:
        engine.dispose()
    if args.json:
        out: dict[str, Any] = {
            "project": project.name,
            "month": month,
            "outages": {
                d: {"count": o.count, "minutes": round(o.minutes, 2)} for d, o in outages.items()
            },
            "accuracy": [{**asdict(r), "accuracy_pct": r.accuracy_pct} for r in accuracy],
        }
        print(json.dumps(out, ensure_ascii=False))
        return 0
    print(f"{project.name}: diagnostics of {month}")
    print(f"link outages ({len(outages)} of {len(project.devices)} devices had one)")
    for device in project.devices:
        o = outages.get(device)
        count, minutes = (o.count, o.minutes) if o else (0, 0.0)
        print(f"  {device:<20} {count:>5} outage(s) {minutes:>10.1f} min")
    print(f"data accuracy ({len(accuracy)} checked tag(s), worst first)")
    for r in accuracy:
        pct = "—" if r.accuracy_pct is None else f"{r.accuracy_pct:.2f} %"
        print(
            f"  {r.tag:<24} {pct:>9}  watched {r.watched_s / 3600:7.1f} h  "
            f"bad {r.bad_s / 60:6.1f} min  frozen {r.frozen_s / 60:6.1f} min  "
            f"out of range {r.range_s / 60:6.1f} min  spikes {r.spike_count}"
        )
    return 0


def add_diagnostics_commands(sub: Any) -> None:
    """Add `diagnostics` to the `conduit` sub-command parser."""
    p = sub.add_parser(
        "diagnostics", help="link outages per device and data accuracy per tag, for a month"
    )
    p.add_argument("project", type=Path)
    p.add_argument("--month", help="YYYY-MM, station local time (default: this month)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=guarded(cmd_diagnostics))

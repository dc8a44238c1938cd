"""`conduit audit`: list the audit trail's records, or verify that none was tampered with.

The trail is in the relational store, which other processes may read while seats write (SQLite
in WAL mode, or a server), so it is read directly: the default database of this installation,
or `--db URL`. `--verify` prints the head hash, to be compared with an earlier copy (a trail
rewritten together with its head passes every check but that one); it exits 2 when tampered.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from hmi.audit.query import query_audit
from hmi.audit.schema import AuditError, AuditRecord
from hmi.audit.verify import verify
from hmi.cli_history import CliError, guarded, parse_when
from hmi.db import open_database
from hmi.project import load_project
from hmi.resources import data_home

__all__ = ["add_audit_commands"]

_SHOWN_PROBLEMS = 100  # the rest are counted (--json lists them all)


def _stamp(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def _open(url: str | None) -> Engine:
    try:
        return open_database(url, data_home())
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise CliError(f"--db: not a usable database URL ({exc})") from None


def cmd_audit(args: argparse.Namespace) -> int:
    """Print the audit records matching the filters, or verify the whole trail (--verify)."""
    project = load_project(args.project)
    engine = _open(args.db)
    where = engine.url.render_as_string(hide_password=True)
    try:
        if args.verify:
            return _verify(engine, project.name, where, as_json=args.json)
        return _list(engine, project.name, args)
    except AuditError as exc:
        raise CliError(f"{exc} ({where})") from None
    finally:
        engine.dispose()


def _verify(engine: Engine, name: str, where: str, *, as_json: bool) -> int:
    report = verify(engine)
    if as_json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
        return 0 if report.ok else 2
    if report.ok:
        print(
            f"ok: the audit trail of {name!r} is intact: {report.count} record(s), "
            f"head seq {report.head_seq} hash {report.head_hash}"
        )
        print(f"  in {where}; keep the head hash to compare with the next verify")
        return 0
    print(
        f"TAMPERED: {len(report.problems)} problem(s) in the audit trail of {name!r} "
        f"({report.count} record(s), head seq {report.head_seq} hash {report.head_hash})"
    )
    for problem in report.problems[:_SHOWN_PROBLEMS]:
        print(f"  {problem.message}")
    if len(report.problems) > _SHOWN_PROBLEMS:
        print(f"  ... and {len(report.problems) - _SHOWN_PROBLEMS} more (--json lists all)")
    return 2


def _list(engine: Engine, name: str, args: argparse.Namespace) -> int:
    now = time.time()
    start, end = parse_when(args.start, now), parse_when(args.end, now)
    if end <= start:
        raise CliError("--to must be after --from")
    records = query_audit(
        engine,
        start,
        end,
        user=args.user,
        action=args.action,
        target=args.target,
        newest_first=args.newest,
        limit=args.limit,
    )
    if args.json:
        print(json.dumps([r.as_dict() for r in records], ensure_ascii=False))
        return 0
    print(f"{len(records)} audit record(s) of {name!r}, {_stamp(start)} .. {_stamp(end)}")
    for r in records:
        print(f"  {_line(r)}")
    return 0


def _line(r: AuditRecord) -> str:
    parts: list[Any] = [f"#{r.seq:<6}", _stamp(r.ts), f"{r.user}@{r.host}", r.action]
    if r.target:
        parts.append(r.target)
    if r.old or r.new:
        parts.append(f"{r.old or '—'} -> {r.new or '—'}")
    if r.reason:
        parts.append(f"({r.reason})")
    parts.append(f"[{r.result}]")
    return "  ".join(str(p) for p in parts)


def add_audit_commands(sub: Any) -> None:
    """Add `audit` to the `conduit` sub-command parser."""
    p = sub.add_parser("audit", help="the audit trail: who did what; --verify checks it")
    p.add_argument("project", type=Path)
    p.add_argument(
        "--verify",
        action="store_true",
        help="check the whole trail for edited, deleted, reordered or forged records "
        "(exit 2 when tampered)",
    )
    p.add_argument("--from", dest="start", default="-24h", help="default 24 h ago")
    p.add_argument("--to", dest="end", default="now", help="default now")
    p.add_argument("--user", help="only this user's records")
    p.add_argument(
        "--action", help="only this action; a prefix when it ends with '.' or '*' (command.)"
    )
    p.add_argument("--target", help="only records about this target (a tag, user, report…)")
    p.add_argument("--newest", action="store_true", help="newest first (default oldest first)")
    p.add_argument("--limit", type=int, default=10_000, help="records, at most")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--db", metavar="URL", help="database URL (default: this installation's)")
    p.set_defaults(func=guarded(cmd_audit))

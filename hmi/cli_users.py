"""`conduit users`: add, list, disable, enable users and reset their passwords.

Works on the station's relational store directly (`hmi.sqlite` in the data folder, or
`--db URL`): whoever can run this can already write that database, so the command line needs
no HMI login; its changes are audited under the operating-system user (`os:NAME`). Passwords
are read with getpass (twice, must match) or from stdin (`--password-stdin`), never from an
argument, and never printed. The first user of a new station is created here and must be an
administrator: there is no built-in default password.
"""

from __future__ import annotations

import argparse
import getpass
import json
import socket
import sys
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from hmi.cli_history import CliError, guarded
from hmi.db import open_database
from hmi.resources import data_home
from hmi.security.audit_sink import AuditSink
from hmi.security.errors import SecurityError
from hmi.security.permissions import RoleGrant, parse_grants
from hmi.security.store import UserInfo, UserStore

__all__ = ["add_user_commands"]


def _audit(engine: Engine) -> AuditSink:
    """The station's audit trail on `engine` (the command line's changes are recorded there)."""
    from hmi.audit.trail import AuditTrail

    try:
        return AuditTrail(engine, host=socket.gethostname())
    except Exception as exc:
        raise CliError(f"the audit trail is not available ({exc}); nothing was changed") from exc


def _operator() -> str:
    try:
        return f"os:{getpass.getuser()}"
    except (KeyError, OSError):
        return "os:unknown"


def _read_password(args: argparse.Namespace, name: str) -> str:
    """The new password for `name`: twice by getpass, or from stdin (a second line repeats it)."""
    if args.password_stdin:
        lines = sys.stdin.read().splitlines()
        if not lines:
            raise CliError("no password on stdin")
        first, repeat = lines[0], lines[1] if len(lines) > 1 else lines[0]
    else:
        first = getpass.getpass(f"new password for {name}: ")
        repeat = getpass.getpass(f"repeat the password for {name}: ")
    if first != repeat:
        raise CliError("the two passwords differ; nothing was changed")
    return first


def _store(args: argparse.Namespace) -> tuple[Engine, UserStore]:
    engine = open_database(args.db, data_home())
    try:
        return engine, UserStore(engine, _audit(engine), host=socket.gethostname())
    except BaseException:
        engine.dispose()
        raise


def _stamp(ts: float | None) -> str:
    if ts is None:
        return "—"
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def cmd_users(args: argparse.Namespace) -> int:
    """Run one `conduit users` subcommand against the store."""
    engine, store = _store(args)
    try:
        code: int = args.action(store, args)
        return code
    except SecurityError as exc:
        raise CliError(str(exc)) from None
    finally:
        engine.dispose()


def _add(store: UserStore, args: argparse.Namespace) -> int:
    grants: list[RoleGrant] = []
    for text in args.role:
        try:
            grants.extend(parse_grants(text))
        except ValueError as exc:
            raise CliError(str(exc)) from None
    password = _read_password(args, args.name)
    info = store.add_user(
        args.name, password, grants, by=_operator(), full_name=args.full_name or ""
    )
    print(f"added {info.name}: {' '.join(str(g) for g in info.grants)}")
    return 0


def _state(info: UserInfo, now: float) -> str:
    if info.disabled:
        return "disabled"
    if info.locked_until is not None and info.locked_until > now:
        return f"locked until {_stamp(info.locked_until)}"
    return "enabled"


def _list(store: UserStore, args: argparse.Namespace) -> int:
    found = store.list_users()
    if args.json:
        print(json.dumps([u.to_row() for u in found], ensure_ascii=False))
        return 0
    if not found:
        print("no users yet: create the first with `conduit users add NAME --role administrator`")
        return 0
    now = datetime.now().timestamp()
    rows: list[tuple[Any, ...]] = [("name", "full name", "roles", "state", "password changed")]
    rows += [
        (
            u.name,
            u.full_name or "—",
            " ".join(str(g) for g in u.grants),
            _state(u, now),
            _stamp(u.password_changed),
        )
        for u in found
    ]
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return 0


def _disable(store: UserStore, args: argparse.Namespace) -> int:
    store.disable(args.name, by=_operator(), reason=args.reason or "")
    print(f"disabled {args.name}")
    return 0


def _enable(store: UserStore, args: argparse.Namespace) -> int:
    store.enable(args.name, by=_operator(), reason=args.reason or "")
    print(f"enabled {args.name}")
    return 0


def _reset_password(store: UserStore, args: argparse.Namespace) -> int:
    if store.get(args.name) is None:
        raise CliError(f"no user {args.name!r}")
    store.reset_password(args.name, _read_password(args, args.name), by=_operator())
    print(f"new password set for {args.name}")
    return 0


def add_user_commands(sub: Any) -> None:
    """Register `conduit users ...` on the main parser's subcommands."""
    users = sub.add_parser("users", help="add, list, disable and enable users; reset passwords")
    actions = users.add_subparsers(required=True, metavar="ACTION")

    def action(name: str, help_text: str, func: Any) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = actions.add_parser(name, help=help_text)
        p.add_argument("--db", metavar="URL", help="SQLAlchemy URL (default: the station's)")
        p.set_defaults(func=guarded(cmd_users), action=func)
        return p

    def password_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from stdin (one line; a second line must repeat it)",
        )

    p = action("add", "add a user", _add)
    p.add_argument("name")
    p.add_argument(
        "--role",
        action="append",
        required=True,
        metavar="ROLE[:AREA,AREA]",
        help="a role in every area, or in the listed areas only (repeatable)",
    )
    p.add_argument("--full-name", metavar="TEXT")
    password_option(p)

    p = action("list", "list the users", _list)
    p.add_argument("--json", action="store_true", help="machine-readable output")

    for name, verb, func in (("disable", "refuse", _disable), ("enable", "allow", _enable)):
        p = action(name, f"{verb} every further login of a user", func)
        p.add_argument("name")
        p.add_argument("--reason", metavar="TEXT", help="recorded in the audit trail")

    p = action("reset-password", "set a new password for a user", _reset_password)
    p.add_argument("name")
    password_option(p)

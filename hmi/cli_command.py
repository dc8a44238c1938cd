"""`conduit command PROJECT TAG VALUE`: one command to the plant from a terminal.

Goes through the running station's command service like a screen's command: the person logs
in (the password is asked on the terminal, or read from stdin), the point is selected,
confirmed with the same password, approved by `--approver` when it needs a second person,
operated and read back. Every step is in the audit trail.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from hmi.cli_history import CliError, guarded
from hmi.control import ControlError, NotRunning, request
from hmi.project import load_project
from hmi.resources import data_home

__all__ = ["add_command_commands"]


def _value(text: str) -> bool | float:
    """A command value from the terminal: on/off/true/false, or a number."""
    lowered = text.strip().lower()
    if lowered in ("on", "true", "start"):
        return True
    if lowered in ("off", "false", "stop"):
        return False
    try:
        return float(text)
    except ValueError:
        raise CliError(f"VALUE: expected a number or on/off, got {text!r}") from None


def _passwords(args: argparse.Namespace) -> tuple[str, str]:
    """The user's (and the approver's) password: from stdin, one per line, or asked."""
    if args.password_stdin:
        lines = sys.stdin.read().splitlines()
        want = 2 if args.approver else 1
        if len(lines) < want:
            raise CliError(f"--password-stdin: expected {want} line(s) of password")
        return lines[0], lines[1] if args.approver else ""
    first = getpass.getpass(f"password for {args.user}: ")
    second = getpass.getpass(f"password for {args.approver}: ") if args.approver else ""
    return first, second


def cmd_command(args: argparse.Namespace) -> int:
    """Send one command through the running station and print how it ended."""
    project = load_project(args.project)
    value = _value(args.value)
    password, approver_password = _passwords(args)
    message: dict[str, Any] = {
        "user": args.user,
        "password": password,
        "tag": args.tag,
        "value": value,
        "approver": args.approver or "",
        "approver_password": approver_password,
    }
    try:
        result: dict[str, Any] = request(data_home(), project.name, "command.run", message)
    except NotRunning:
        raise CliError(
            f"no station of {project.name!r} is running: commands go through the station"
        ) from None
    except ControlError as exc:
        raise CliError(f"refused: {exc}") from None
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(f"{result['tag']}: {result['outcome']} — {result['message']}")
    return 0 if result["outcome"] == "verified" else 1


def add_command_commands(sub: Any) -> None:
    """Add `command` to the `conduit` sub-command parser."""
    p = sub.add_parser("command", help="write one value to the plant through the command service")
    p.add_argument("project", type=Path)
    p.add_argument("tag")
    p.add_argument("value", help="a number, or on/off")
    p.add_argument("--user", required=True, help="who commands (asked for the password)")
    p.add_argument("--approver", help="the second person, for a two-person point")
    p.add_argument(
        "--password-stdin", action="store_true", help="read the password(s) from stdin, one a line"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=guarded(cmd_command))

"""`conduit`: the headless command line (check, run, tags, sim, secrets, history, alarms).

Prints what a person needs and exits non-zero on failure; a project error is a list of
messages with file and line, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from hmi.cli_alarms import add_alarm_commands
from hmi.cli_audit import add_audit_commands
from hmi.cli_command import add_command_commands
from hmi.cli_diagnostics import add_diagnostics_commands
from hmi.cli_history import add_history_commands
from hmi.cli_users import add_user_commands
from hmi.project import ProjectError, check_project, load_project
from hmi.secrets import SecretsError, delete_password, set_password
from hmi.station import Station, StationError
from hmi.tags import Reason, TagDef, Value, format_value

log = logging.getLogger("conduit")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `conduit` command."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        code: int = args.func(args)
    except ProjectError as exc:
        print(str(exc), file=sys.stderr)
        print(f"{len(exc.problems)} problem(s) in {args.project}", file=sys.stderr)
        return 2
    except StationError as exc:
        print(f"conduit: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="conduit", description="Conduit HMI station runtime")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    p = sub.add_parser("check", help="validate a project folder")
    p.add_argument("project", type=Path)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("run", help="run the station runtime without a window")
    p.add_argument("project", type=Path)
    p.add_argument("--for", dest="duration", type=float, metavar="SECONDS", help="stop after")
    _simulate_options(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("tags", help="print a snapshot of every tag")
    p.add_argument("project", type=Path)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--wait",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="wait up to this long for every tag's first value (default 5)",
    )
    _simulate_options(p)
    p.set_defaults(func=cmd_tags)

    p = sub.add_parser("secrets", help="store or delete a device password in the OS keyring")
    p.add_argument("action", choices=("set", "delete"))
    p.add_argument("device", help="device name as in devices.toml")
    p.add_argument(
        "--stdin", action="store_true", help="read the password from standard input (scripts)"
    )
    p.set_defaults(func=cmd_secrets)

    p = sub.add_parser("sim", help="run the plant simulators alone (no runtime, no window)")
    p.add_argument(
        "project",
        type=Path,
        nargs="?",
        help="serve every device this project marks `simulate` (else the heating plant alone)",
    )
    p.add_argument("--port", type=int, default=15020, help="first port without a project")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--speed", type=float, default=1.0, help="time acceleration factor")
    p.add_argument("--for", dest="duration", type=float, metavar="SECONDS", help="stop after")
    p.add_argument("--register-map", action="store_true", help="print the register map and exit")
    p.set_defaults(func=cmd_sim)
    add_history_commands(sub)
    add_alarm_commands(sub)
    add_audit_commands(sub)
    add_diagnostics_commands(sub)
    add_command_commands(sub)
    add_user_commands(sub)
    return parser


def _simulate_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--simulate",
        action="store_true",
        help="serve the devices marked `simulate` with the built-in plant simulator",
    )
    p.add_argument("--speed", type=float, default=1.0, help="simulator time acceleration")


def cmd_check(args: argparse.Namespace) -> int:
    """Validate a project; print every problem and warning."""
    project = load_project(args.project)
    for warning in check_project(project):
        print(f"warning: {warning}")
    calcs = sum(1 for t in project.tags.values() if t.is_calc)
    print(
        f"{args.project}: OK — {len(project.tags)} tags ({calcs} calculated), "
        f"{len(project.devices)} devices"
    )
    return 0


def _wait_for_stop(duration: float | None) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait(duration)


def cmd_run(args: argparse.Namespace) -> int:
    """Run the station until interrupted or for a given time."""
    station = Station.open(args.project, simulate=args.simulate, sim_speed=args.speed)
    with station:
        print(f"running {station.project.name}: {len(station.runtime.tags)} tags; Ctrl-C stops")
        _wait_for_stop(args.duration)
        _, values = station.runtime.store.snapshot()
        good = sum(1 for v in values.values() if v.good)
        print(f"stopped: {good}/{len(values)} tags good, {station.runtime.samples_in} samples")
    return 0


def cmd_tags(args: argparse.Namespace) -> int:
    """Print every tag's current value once the first values arrived (or after --wait)."""
    station = Station.open(args.project, simulate=args.simulate, sim_speed=args.speed)
    with station:
        store = station.runtime.store
        deadline = time.monotonic() + args.wait
        while time.monotonic() < deadline:
            _, values = store.snapshot()
            if all(v.reason is not Reason.INITIAL for v in values.values()):
                break
            time.sleep(0.05)
        station.runtime.call(station.runtime.refresh_link_stats()).result(5)
        _, values = store.snapshot()
        tags = station.runtime.tags
    if args.json:
        print(json.dumps({n: _as_json(tags[n], v) for n, v in values.items()}, indent=1))
    else:
        for name, value in values.items():
            print(_as_line(tags[name], value))
    return 0


def _as_line(tag: TagDef, value: Value) -> str:
    ts = datetime.fromtimestamp(value.source_ts).strftime("%H:%M:%S") if value.source_ts else "-"
    return f"{tag.name:<28} {format_value(tag, value):<34} {ts}"


def _as_json(tag: TagDef, value: Value) -> dict[str, Any]:
    return {
        "value": value.value,
        "unit": tag.unit,
        "quality": value.quality.name.lower(),
        "reason": str(value.reason),
        "source_ts": value.source_ts,
        "recv_ts": value.recv_ts,
    }


def cmd_secrets(args: argparse.Namespace) -> int:
    """Store or delete a device password; it is never echoed, logged or taken from argv."""
    try:
        if args.action == "delete":
            found = delete_password(args.device)
            print(f"{args.device}: password deleted" if found else f"{args.device}: none stored")
            return 0
        if args.stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = getpass.getpass(f"password for {args.device}: ")
            if getpass.getpass("again: ") != password:
                print("the two entries differ; nothing stored", file=sys.stderr)
                return 1
        set_password(args.device, password)
    except SecretsError as exc:
        print(f"conduit secrets: {exc}", file=sys.stderr)
        return 1
    print(f"{args.device}: password stored in the OS keyring")
    return 0


def cmd_sim(args: argparse.Namespace) -> int:
    """Serve the simulators a project asks for (or the heating plant alone) until interrupted."""
    from drivers.sim.registers import register_map_markdown
    from drivers.sim.serve import endpoints_for, run

    if args.register_map:
        print(register_map_markdown())
        return 0
    if args.project is None:
        endpoints = endpoints_for(args.port, host=args.host)
        for station, (host, port) in endpoints.items():
            print(f"{station}: modbus://{host}:{port}")
        run(
            endpoints,
            speed=args.speed,
            duration=args.duration,
            ready=lambda: print("serving; Ctrl-C stops", flush=True),
        )
        return 0
    from hmi.simulation import SimulationHost, simulated_endpoints

    simulation = SimulationHost(simulated_endpoints(load_project(args.project)), speed=args.speed)
    for plant, stations in simulation.endpoints.items():
        for station, (address, port) in stations.items():
            print(f"{plant}/{station}: {address}:{port}")
    simulation.start()
    try:
        print("serving; Ctrl-C stops", flush=True)
        _wait_for_stop(args.duration)
    finally:
        simulation.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

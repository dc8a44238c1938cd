"""The project's simulators served by a child process, for the operator application's demo.

The plant is another machine in the field; in the demo it is this child process, so its
physics, its Modbus and OPC UA servers and their start-up (most of a second of CPU, two for the
OPC UA address space) run on another core instead of under the application's interpreter lock.

Parent side: `SimulatorProcess` (cheap to import: spawn it before the heavy imports). Child
side: `python -m hmi.simulation_process PROJECT [--speed S]` reads the project's devices.toml
(the devices marked `simulate`: the rest of the project is the application's), prints `listening`
once the heating plant and the broker serve, `ready` once every simulator does, and stops when
its standard input closes, so it never outlives the application, however that ends. The gas
gate runs on a thread and loop of its own there: building its OPC UA address space (two
seconds) must not hold up the heating plant's Modbus answers.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

LISTENING = "listening"  # the heating plant (Modbus) and the broker serve
READY = "ready"  # every simulator serves, the OPC UA gas gate included


class SimulatorProcessError(Exception):
    """The simulator process did not start; the message holds what it said."""


class SimulatorProcess:
    """A child process serving every device the project marks `simulate`."""

    def __init__(self, project: str | Path, *, speed: float = 1.0) -> None:
        self.project = Path(project)
        self.speed = speed
        self.listening = threading.Event()
        self.ready = threading.Event()  # set once every simulator listens (or the child ended)
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._said: list[str] = []  # what the child printed, for the error message
        self._heard: set[str] = set()  # LISTENING and READY, once the child has said them

    def spawn(self) -> SimulatorProcess:
        """Start the child now (it builds its simulators while the caller goes on)."""
        if self._process is None:
            self._process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(self.project), "--speed", repr(self.speed)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            self._reader = threading.Thread(
                target=self._read, name="conduit-sim-process", daemon=True
            )
            self._reader.start()
        return self

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            word = line.strip()
            if word in (LISTENING, READY):
                self._heard.add(word)
                (self.listening if word == LISTENING else self.ready).set()
            else:
                self._said.append(word)
        self.listening.set()  # the child ended: nobody waits any longer
        self.ready.set()

    def start(self, timeout: float = 30.0, *, defer_slow: bool = False) -> None:
        """Spawn the child if not yet and wait until it serves (every simulator unless
        `defer_slow`: then the heating plant and the broker); raises SimulatorProcessError."""
        self.spawn()
        assert self._process is not None
        word = LISTENING if defer_slow else READY
        if not (self.listening if defer_slow else self.ready).wait(timeout):
            self.stop()
            raise SimulatorProcessError(f"the simulators did not listen within {timeout:g}s")
        if word not in self._heard:  # the child ended without serving
            code = self._process.wait(timeout)
            said = "; ".join(self._said) or f"exit code {code}"
            raise SimulatorProcessError(f"the simulator process ended: {said}")

    def start_deferred(self, delay: float = 0.0) -> None:
        """Nothing to do: the child builds its slow simulators at once, on its own core."""

    def wait_ready(self, timeout: float = 30.0) -> bool:
        """Wait until every simulator listens; False on timeout."""
        return self.ready.wait(timeout)

    def stop(self, timeout: float = 15.0) -> None:
        """Close the child's input (it stops its simulators and ends) and wait for it."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if self._reader is not None:
            self._reader.join(timeout)
        if process.stdout is not None:
            process.stdout.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Child side: serve the simulators until standard input closes."""
    import logging

    from hmi.projectfiles import Report
    from hmi.projectload import Loader
    from hmi.simulation import SimulationError, SimulationHost, endpoints_for

    parser = argparse.ArgumentParser(prog="python -m hmi.simulation_process")
    parser.add_argument("project", type=Path)
    parser.add_argument("--speed", type=float, default=1.0)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s"
    )
    report = Report()
    devices = Loader(args.project, report)
    devices.read_devices()
    try:
        if report.problems:  # the application reports the whole project's problems
            raise SimulationError(f"{args.project}: devices.toml has problems")
        endpoints = endpoints_for(devices.devices, devices.simulated)
    except SimulationError as exc:
        print(str(exc), flush=True)
        return 2
    gas = {"gasgate": endpoints.pop("gasgate")} if "gasgate" in endpoints else {}
    hosts = [SimulationHost(endpoints, speed=args.speed)]
    try:
        hosts[0].start()
        print(LISTENING, flush=True)
        if gas:
            hosts.append(SimulationHost(gas, speed=args.speed))
            hosts[1].start()
        print(READY, flush=True)
    except (SimulationError, OSError) as exc:
        print(str(exc), flush=True)
        for host in hosts:
            host.stop()
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        sys.stdin.read()  # until the application closes our input or ends
    for host in reversed(hosts):
        host.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

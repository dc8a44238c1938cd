"""Runs the built-in simulators for the devices marked `simulate`, on their own thread.

The simulators serve real protocol endpoints on the host and port each device declares, so the
runtime talks to them exactly as it would to the field: `heating/<station>` (Modbus TCP, the
district-heating plant), `gasgate/GS1` (OPC UA, the gas gate station) and `mosquitto` (a local
mosquitto broker process; the heating plant's consumer heat meters are published to it as JSON
and Sparkplug B). Without a mosquitto binary the MQTT part is left out, with one log line.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import getpass
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when used: a Modbus-only project never loads asyncua or paho
    from drivers.base import DeviceConfig
    from drivers.sim.meters_mqtt import MeterPublisher
    from drivers.sim.opcua_serve import GasGateSimulator
    from drivers.sim.serve import HeatingSimulator
    from hmi.project import Project

log = logging.getLogger("hmi.simulation")

PLANTS = ("heating", "gasgate")  # simulate = "<plant>/<station>"
SERVICES = ("mosquitto",)  # simulate = "<service>"
GAS_STATIONS = ("GS1",)
DEFAULT_PORTS = {"gasgate": 4840, "mosquitto": 1883}
# looked in after PATH: Debian and Ubuntu install the broker in /usr/sbin
EXTRA_BIN_DIRS: tuple[str, ...] = ("/usr/sbin", "/usr/local/sbin")
NO_BROKER = (
    "MQTT part of the demo disabled: no mosquitto broker found "
    "(Debian/Ubuntu: sudo apt-get install mosquitto)"
)

Endpoint = tuple[str, int]


class SimulationError(Exception):
    """The project asks for a simulator that does not exist or cannot start."""


def simulated_endpoints(project: Project) -> dict[str, dict[str, Endpoint]]:
    """Plant or service -> station (the device name for services) -> (host, port)."""
    return endpoints_for(project.devices, project.simulated)


def endpoints_for(
    devices: Mapping[str, DeviceConfig], simulated: Mapping[str, str]
) -> dict[str, dict[str, Endpoint]]:
    """`simulated_endpoints` from the devices and their `simulate` keys alone."""
    plants: dict[str, dict[str, Endpoint]] = {}
    for device_name, target in simulated.items():
        plant, slash, station = target.partition("/")
        where = f"devices.toml: device {device_name}: simulate"
        if plant in SERVICES and not slash:
            station = device_name
        elif plant not in PLANTS or not station:
            raise SimulationError(
                f"{where}: unknown simulator {target!r} (expected <plant>/<station> with plant "
                f"one of {', '.join(PLANTS)}, or one of {', '.join(SERVICES)})"
            )
        elif plant == "gasgate" and station not in GAS_STATIONS:
            raise SimulationError(
                f"{where}: unknown gas station {station!r} (expected one of "
                f"{', '.join(GAS_STATIONS)})"
            )
        device = devices[device_name]
        endpoint = (device.host, device.port or DEFAULT_PORTS.get(plant, 0))
        plants.setdefault(plant, {})[station] = endpoint
    for kind in ("gasgate", "mosquitto"):
        if len(plants.get(kind, {})) > 1:
            raise SimulationError(
                f"devices.toml: only one device may simulate {kind!r} "
                f"(found {', '.join(sorted(plants[kind]))})"
            )
    return plants


def find_mosquitto() -> str | None:
    """Path of the mosquitto broker: on PATH, else in /usr/sbin or /usr/local/sbin; or None."""
    found = shutil.which("mosquitto")
    if found:
        return found
    for folder in EXTRA_BIN_DIRS:
        path = Path(folder) / "mosquitto"
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    return None


class LocalBroker:
    """A mosquitto process on one loopback port, configured in its own temporary folder."""

    def __init__(self, binary: str, endpoint: Endpoint) -> None:
        self.binary = binary
        self.endpoint = endpoint
        self.folder = Path(tempfile.mkdtemp(prefix="conduit-broker-"))
        self.logfile = self.folder / "mosquitto.log"
        self.process: subprocess.Popen[bytes] | None = None
        host, port = endpoint
        lines = [
            f"listener {port} {host}",
            "allow_anonymous true",
            "persistence false",
            "log_dest stdout",
        ]
        with contextlib.suppress(Exception):  # mosquitto drops root to user `mosquitto`
            lines.append(f"user {getpass.getuser()}")
        (self.folder / "mosquitto.conf").write_text("\n".join(lines) + "\n", encoding="utf-8")

    @property
    def pid(self) -> int | None:
        """Process id of the running broker."""
        return self.process.pid if self.process is not None else None

    async def start(self, within: float = 5.0) -> None:
        """Start the broker and wait until its port accepts connections."""
        host, port = self.endpoint
        try:  # or the wait below would take whatever listens there for the broker
            socket.create_server((host, port)).close()
        except OSError as exc:
            self.stop()
            raise SimulationError(
                f"cannot start mosquitto on {host}:{port}: {exc.strerror or exc}"
            ) from None
        try:
            with self.logfile.open("ab") as out:
                self.process = subprocess.Popen(  # noqa: ASYNC220 - returns at once
                    [self.binary, "-c", str(self.folder / "mosquitto.conf")],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # its own process group: Ctrl+C is ours to handle
                )
        except OSError as exc:
            self.stop()
            raise SimulationError(f"cannot run {self.binary}: {exc}") from None
        atexit.register(self.stop)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            if self.process.poll() is not None:
                text = self.logfile.read_text(errors="replace").strip()
                self.stop()
                raise SimulationError(f"mosquitto on {host}:{port} exited at start: {text}")
            try:
                _, writer = await asyncio.open_connection(host, port)
            except OSError:
                if loop.time() > deadline:
                    self.stop()
                    raise SimulationError(
                        f"mosquitto did not listen on {host}:{port} within {within:g}s"
                    ) from None
                await asyncio.sleep(0.02)
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return

    def stop(self) -> None:
        """Terminate the broker and wait for it (kill it if it hangs); remove its folder."""
        process, self.process = self.process, None
        atexit.unregister(self.stop)
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        shutil.rmtree(self.folder, ignore_errors=True)


class SimulationHost:
    """Owns the simulator thread and loop, and the simulators running on it."""

    def __init__(
        self,
        endpoints: Mapping[str, Mapping[str, Endpoint]],
        speed: float = 1.0,
        seed: int = 1,
        meter_interval: float = 2.0,
    ) -> None:
        """`endpoints`: plant or service -> station -> (host, port), see `simulated_endpoints`."""
        self.endpoints = endpoints
        self.speed = speed
        self.seed = seed
        self.meter_interval = meter_interval
        self.heating: HeatingSimulator | None = None
        self.gasgate: GasGateSimulator | None = None
        self.broker: LocalBroker | None = None
        self.meters: MeterPublisher | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._gas_task: asyncio.Future[None] | None = None
        self._gas_endpoint: Endpoint | None = None
        self.ready = threading.Event()  # set once every simulator listens (or failed to)

    def start(self, timeout: float = 30.0, *, defer_slow: bool = False) -> None:
        """Start every simulator the project needs and wait until they listen.

        With `defer_slow`, the slow ones (the OPC UA gas gate) wait for `start_deferred`.
        """
        if not self.endpoints:
            self.ready.set()
            return
        started: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._main, args=(started,), name="conduit-sim", daemon=True
        )
        self._thread.start()
        started.result(timeout)
        if not defer_slow:
            self.start_deferred()
            if not self.wait_ready(timeout):
                raise SimulationError(f"the simulators did not listen within {timeout:g}s")

    def _main(self, started: concurrent.futures.Future[None]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)  # pymodbus looks the loop up with get_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._start())
        except BaseException as exc:
            with contextlib.suppress(Exception):
                loop.run_until_complete(self._shutdown())
            started.set_exception(exc)
            loop.close()
            return
        started.set_result(None)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._shutdown())
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    async def _start(self) -> None:
        brokers = self.endpoints.get("mosquitto", {})
        broker_endpoint = next(iter(brokers.values()), None)
        if broker_endpoint is not None:
            binary = find_mosquitto()
            if binary is None:
                log.warning(NO_BROKER)
            else:
                self.broker = LocalBroker(binary, broker_endpoint)
                await self.broker.start()
                log.info("mosquitto broker on %s:%d", *broker_endpoint)
        heating = self.endpoints.get("heating")
        if heating:
            from drivers.sim.serve import HeatingSimulator

            self.heating = HeatingSimulator()
            await self.heating.start(heating, speed=self.speed, seed=self.seed)
        gas = self.endpoints.get("gasgate")
        if gas:
            # building the OPC UA address space costs asyncua about two seconds of CPU: it is
            # built after the station has started (`start_deferred`), so the first screen and
            # the heating plant's values do not wait for it; the OPC UA link connects when the
            # server listens
            self._gas_endpoint = next(iter(gas.values()))
        if self.broker is not None and self.heating is not None:
            from drivers.sim.meters_mqtt import MeterPublisher

            self.meters = MeterPublisher(
                self.heating.plant, self.broker.endpoint, self.meter_interval
            )
            await self.meters.start()

    def start_deferred(self, delay: float = 0.0) -> None:
        """Start the simulators that are slow to build (the OPC UA gas gate) in the background
        after `delay` seconds; `ready` is set when they listen."""
        loop, endpoint = self._loop, self._gas_endpoint
        if loop is None or endpoint is None:
            self.ready.set()
            return

        def begin() -> None:
            self._gas_task = asyncio.ensure_future(self._start_gasgate(endpoint))

        loop.call_soon_threadsafe(loop.call_later, delay, begin)

    def wait_ready(self, timeout: float = 30.0) -> bool:
        """Wait until every simulator listens (after `start_deferred`); False on timeout."""
        return self.ready.wait(timeout)

    async def _start_gasgate(self, endpoint: Endpoint) -> None:
        from drivers.sim.opcua_serve import GasGateSimulator

        gasgate = GasGateSimulator()
        try:
            await gasgate.start(endpoint, speed=self.speed, seed=self.seed)
        except Exception as exc:
            log.error("gas gate simulator did not start: %s", exc)
            return
        finally:
            self.ready.set()
        self.gasgate = gasgate
        log.info("gas gate station GS1 on %s", gasgate.url)

    async def _shutdown(self) -> None:
        """Stop whatever runs, newest first; the broker process last."""
        task, self._gas_task = self._gas_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.meters is not None:
            await self.meters.stop()
        if self.gasgate is not None:
            await self.gasgate.stop()
        if self.heating is not None:
            await self.heating.stop()
        if self.broker is not None:
            self.broker.stop()

    def call(self, fn: Any, *args: Any) -> None:
        """Run a plain function on the simulator thread (e.g. to inject a fault)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(fn, *args)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the simulators, the broker process and their thread."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
        self._thread = None
        self._loop = None

"""Runs the built-in plant simulators for the devices marked `simulate`, on their own thread.

The simulator serves real protocol endpoints (Modbus TCP on 127.0.0.1) at the host and port each
device declares, so the runtime talks to it exactly as it would to a PLC.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any

from drivers.sim.serve import HeatingSimulator
from hmi.project import Project

PLANTS = ("heating",)


class SimulationError(Exception):
    """The project asks for a simulator that does not exist or cannot start."""


def simulated_endpoints(project: Project) -> dict[str, dict[str, tuple[str, int]]]:
    """Plant name -> station -> (host, port), from the devices marked `simulate`."""
    plants: dict[str, dict[str, tuple[str, int]]] = {}
    for device_name, target in project.simulated.items():
        plant, _, station = target.partition("/")
        if plant not in PLANTS or not station:
            raise SimulationError(
                f"devices.toml: device {device_name}: simulate: unknown simulator {target!r} "
                f"(expected <plant>/<station> with plant one of {', '.join(PLANTS)})"
            )
        device = project.devices[device_name]
        plants.setdefault(plant, {})[station] = (device.host, device.port)
    return plants


class SimulationHost:
    """Owns the simulator thread and loop; `heating` is the running heating plant, if any."""

    def __init__(self, project: Project, speed: float = 1.0, seed: int = 1) -> None:
        self.endpoints = simulated_endpoints(project)
        self.speed = speed
        self.seed = seed
        self.heating: HeatingSimulator | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 15.0) -> None:
        """Start every simulator the project needs and wait until they listen."""
        if not self.endpoints:
            return
        started: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._main, args=(started,), name="conduit-sim", daemon=True
        )
        self._thread.start()
        started.result(timeout)

    def _main(self, started: concurrent.futures.Future[None]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)  # pymodbus looks the loop up with get_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._start())
        except BaseException as exc:
            started.set_exception(exc)
            loop.close()
            return
        started.set_result(None)
        try:
            loop.run_forever()
        finally:
            if self.heating is not None:
                loop.run_until_complete(self.heating.stop())
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    async def _start(self) -> None:
        heating = self.endpoints.get("heating")
        if heating:
            self.heating = HeatingSimulator()
            await self.heating.start(heating, speed=self.speed, seed=self.seed)

    def call(self, fn: Any, *args: Any) -> None:
        """Run a plain function on the simulator thread (e.g. to inject a fault)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(fn, *args)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the simulators and their thread."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
        self._thread = None
        self._loop = None

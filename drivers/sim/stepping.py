"""Stepping a simulated plant in real time, woken at once when a fault or a write changes it.

Shared by the simulators' servers: each composes one `Stepper` and gives it what to do after
every step (refresh registers, publish OPC UA values, open or close listeners).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Protocol


class _Faults(Protocol):
    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]: ...


class _Plant(Protocol):
    @property
    def faults(self) -> _Faults: ...

    def step(self, dt_real: float) -> None: ...


class Stepper:
    """Steps `plant` every `period` seconds of real time, and at once after `wake()`."""

    def __init__(self, plant: _Plant, period: float) -> None:
        self.plant = plant
        self.period = period
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._unsubscribe: Callable[[], None] | None = plant.faults.subscribe(self.wake_soon)
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Step now instead of at the next period (on the stepper's loop)."""
        self._wake.set()

    def wake_soon(self) -> None:
        """Step now; callable from any thread (faults may change from any thread)."""
        self._loop.call_soon_threadsafe(self._wake.set)

    def start(self, after_step: Callable[[], Awaitable[None]], name: str) -> None:
        """Begin stepping; `after_step` runs after every step."""
        self._task = asyncio.create_task(self._run(after_step), name=name)

    async def _run(self, after_step: Callable[[], Awaitable[None]]) -> None:
        last = self._loop.time()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.period):
                    await self._wake.wait()
            self._wake.clear()
            now = self._loop.time()
            self.plant.step(min(now - last, 5 * self.period))  # a stalled loop does not leap
            last = now
            await after_step()

    async def stop(self) -> None:
        """Stop stepping and stop listening to fault changes."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

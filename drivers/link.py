"""Link health shared by all drivers: request outcomes, online/offline state, reconnect backoff.

`LinkMonitor` turns what a driver sees on the wire into `LinkStats` (round-trip percentiles,
loss over a recent window) and logs exactly once per online/offline change. `Backoff` gives
reconnect delays: exponential with full jitter between a minimum and a maximum.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar

from drivers.base import LinkStats

_OK, _ERROR, _TIMEOUT, _FAILURE = 0, 1, 2, 3


def _percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted, non-empty list."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class LinkMonitor:
    """Counts request outcomes and tracks online/offline for one device link."""

    def __init__(
        self,
        device: str,
        logger: logging.Logger | None = None,
        *,
        rtt_window: int = 500,
        loss_window: int = 200,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.device = device
        self._log = logger or logging.getLogger("drivers.link")
        self._clock = clock
        self._online: bool | None = None  # None: not known yet (nothing tried)
        self._ever_online = False
        self._since = clock()
        self._rtts: deque[float] = deque(maxlen=rtt_window)
        self._outcomes: deque[int] = deque(maxlen=loss_window)
        self.requests = 0
        self.errors = 0
        self.timeouts = 0
        self.failures = 0
        self.reconnects = 0
        self.last_error = ""

    @property
    def online(self) -> bool:
        """True while the link is up and the device answers."""
        return bool(self._online)

    def ok(self, rtt_s: float) -> None:
        """Record a request that got a valid answer after `rtt_s` seconds."""
        self.requests += 1
        self._outcomes.append(_OK)
        self._rtts.append(rtt_s * 1000.0)

    def error(self, text: str) -> None:
        """Record a request whose answer was an error (exception response, garbage)."""
        self.requests += 1
        self.errors += 1
        self._outcomes.append(_ERROR)
        self.last_error = text

    def timeout(self) -> None:
        """Record a request that got no answer in time."""
        self.requests += 1
        self.timeouts += 1
        self._outcomes.append(_TIMEOUT)
        self.last_error = "timeout"

    def failure(self, text: str) -> None:
        """Record a request (or connect) that failed because the link is down."""
        self.requests += 1
        self.failures += 1
        self._outcomes.append(_FAILURE)
        self.last_error = text

    def connect_failed(self, text: str) -> None:
        """Record a connection attempt that failed.

        After the device has been online, a failed reconnect is loss like a failed request (a
        short drop shows as packet loss). Before it was ever reached (a station starting before
        its device) the device is offline, its own alarm, and not lossy.
        """
        if self._ever_online:
            self.failure(text)
            return
        self.requests += 1
        self.failures += 1
        self.last_error = text

    def reconnected(self) -> None:
        """Count one re-established connection (not the first one)."""
        self.reconnects += 1

    def set_online(self, detail: str = "") -> bool:
        """Mark the link online; log and return True only if that is a change."""
        if self._online is True:
            return False
        self._online = True
        self._ever_online = True
        self._since = self._clock()
        self._log.info("%s online%s", self.device, f" ({detail})" if detail else "")
        return True

    def set_offline(self, reason: str) -> bool:
        """Mark the link offline; log and return True only if that is a change."""
        if reason:
            self.last_error = reason
        if self._online is False:
            return False
        self._online = False
        self._since = self._clock()
        self._log.warning("%s offline: %s", self.device, reason or "link lost")
        return True

    def stats(self) -> LinkStats:
        """A snapshot of the counters, recent round-trip percentiles and loss."""
        rtts = sorted(self._rtts)
        outcomes = list(self._outcomes)
        lost = sum(1 for o in outcomes if o in (_TIMEOUT, _FAILURE))
        return LinkStats(
            device=self.device,
            online=self.online,
            since=self._since,
            requests=self.requests,
            errors=self.errors,
            timeouts=self.timeouts,
            reconnects=self.reconnects,
            rtt_p50_ms=_percentile(rtts, 0.50) if rtts else None,
            rtt_p99_ms=_percentile(rtts, 0.99) if rtts else None,
            loss_pct=100.0 * lost / len(outcomes) if outcomes else 0.0,
            last_error=self.last_error,
        )


class Backoff:
    """Reconnect delays: exponential growth with full jitter, between `minimum` and `maximum`."""

    def __init__(
        self,
        minimum: float = 0.5,
        maximum: float = 30.0,
        *,
        rng: Callable[[float, float], float] = random.uniform,
    ) -> None:
        if minimum < 0 or maximum < minimum:
            raise ValueError(f"backoff needs 0 <= minimum <= maximum, got {minimum}, {maximum}")
        self.minimum = minimum
        self.maximum = maximum
        self._rng = rng
        self.attempt = 0

    def next(self) -> float:
        """The delay before the next attempt (seconds); each call widens the window."""
        ceiling = min(self.maximum, self.minimum * 2.0 ** min(self.attempt, 64))
        self.attempt += 1
        return self._rng(self.minimum, ceiling)

    def reset(self) -> None:
        """Start again from the minimum (call after a success)."""
        self.attempt = 0


L = TypeVar("L")


async def keep_linked(
    open_link: Callable[[], Awaitable[L | None]],
    serve: Callable[[L], Awaitable[str]],
    close: Callable[[L], Awaitable[None]],
    *,
    monitor: LinkMonitor,
    backoff: Backoff,
    went_offline: Callable[[str], None],
) -> NoReturn:
    """Open a link, serve it until it is lost, close it, and again; returns only when cancelled.

    `open_link` returns None when it could not connect (it records why); the next attempt waits
    a backoff delay. A link that was healthy and drops is retried at once. `serve` returns the
    reason the link was lost, which is handed to `went_offline` after the link is closed.
    """
    delay = False
    connections = 0
    while True:
        if delay:
            await asyncio.sleep(backoff.next())
        link = await open_link()
        if link is None:
            delay = True
            continue
        connections += 1
        if connections > 1:
            monitor.reconnected()
        try:
            reason = await serve(link)
        finally:
            await close(link)
        delay = not monitor.online
        went_offline(reason)

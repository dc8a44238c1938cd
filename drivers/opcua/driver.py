"""OPC UA client driver: owns one server connection, its session, reconnects, writes and stats.

`run` connects (security, certificate trust, login: see `connect`), creates the subscriptions
and polls of its points (`session`), and waits; on any loss (socket closed, watchdog probe
failed, subscription dead) it marks every point bad(comm_failure) in one batch, logs once, and
reconnects with backoff and jitter forever, building a new session each time, so a restarted
server gets its subscriptions and namespace indices afresh. Options: see `connect`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, ClassVar

from asyncua.ua.uaerrors import UaError, UaStatusCodeError

from drivers.address import Address, AddressError
from drivers.base import (
    DeviceConfig,
    DriverError,
    LinkStats,
    Point,
    Quality,
    Reason,
    Sample,
    Sink,
    WriteResult,
)
from drivers.link import Backoff, LinkMonitor, keep_linked
from drivers.opcua.browse import BrowseNode, browse, browse_device
from drivers.opcua.connect import Accounting, Options, describe, open_client
from drivers.opcua.nodeid import opcua_address
from drivers.opcua.plan import Item, plan
from drivers.opcua.session import Session
from drivers.opcua.spec import OpcUaSpec
from drivers.opcua.values import status_name

log = logging.getLogger("drivers.opcua")
_LINK_ERRORS = (ConnectionError, OSError, TimeoutError, UaError)


class OpcUaDriver(OpcUaSpec):
    """OPC UA client for one server: subscriptions and polls, writes, browsing, link stats."""

    scheme: ClassVar[str] = "opcua"

    def __init__(self, device: DeviceConfig, sink: Sink) -> None:
        self._device = device
        self._sink = sink
        self._options = Options.of(device)
        if self._options.username and self._options.security == "None":
            log.warning(
                "%s: user %r logs in over security None: the password is protected only if the "
                "server encrypts user tokens; prefer security Basic256Sha256",
                device.name,
                self._options.username,
            )
        self._backoff = Backoff(self._options.reconnect_min, self._options.reconnect_max)
        self._monitor = LinkMonitor(device.name, log)
        self._accounting = Accounting(self._monitor)
        self._items: dict[str, Item] = {}
        self._warned: set[str] = set()  # item keys whose problem was logged (once per driver)
        self._session: Session | None = None
        self._lock: asyncio.Lock | None = None
        self._wake: asyncio.Event | None = None
        self._lost_reason = ""
        self._logged_reason = ""
        self._marked_offline = False

    # -- points -----------------------------------------------------------------------------

    def _point_keys(self) -> list[str]:
        return [key for item in self._items.values() for key in item.points]

    def _apply_points(self, points: Sequence[Point]) -> list[str]:
        """Plan items for `points`; returns the point keys that were not there before."""
        before = set(self._point_keys())
        self._items, bad = plan(points, self._options)
        if bad:
            self._sink(bad)
        return [key for key in self._point_keys() if key not in before]

    async def set_points(self, points: Sequence[Point]) -> None:
        """Replace the set of points while running: adds and removes monitored items."""
        added = self._apply_points(points)
        if self._marked_offline and added:
            self._sink([Sample(k, None, Quality.BAD, Reason.COMM_FAILURE) for k in added])
        if self._lock is None:
            return
        async with self._lock:
            if self._session is not None:
                try:
                    await self._session.apply(self._items)
                except _LINK_ERRORS as exc:
                    self._lose(describe(exc, self._device, self._options))

    # -- link -------------------------------------------------------------------------------

    def _lose(self, reason: str) -> None:
        if not self._lost_reason:
            self._lost_reason = reason
        if self._wake is not None:
            self._wake.set()

    def _go_offline(self, reason: str) -> None:
        # the monitor's log line names the device already; last_error keeps the full text
        changed = self._monitor.set_offline(reason.removeprefix(f"{self._device.name}: "))
        if not changed and reason != self._logged_reason:
            log.warning("%s", reason)  # still offline, but for a new reason: say it once
        self._monitor.last_error = reason
        self._logged_reason = reason
        if not self._marked_offline and self._items:
            keys = self._point_keys()
            self._sink([Sample(k, None, Quality.BAD, Reason.COMM_FAILURE) for k in keys])
        self._marked_offline = True

    async def _open(self) -> Session | None:
        """Connect and set up subscriptions and polls; None (and offline) if that failed."""
        assert self._lock is not None
        self._lost_reason = ""
        session: Session | None = None
        try:
            client = await open_client(self._device, self._options, self._accounting)
            session = Session(
                client,
                self._device,
                self._options,
                self._sink,
                lose=self._lose,
                warned=self._warned,
            )

            async def lost(exc: Exception) -> None:
                self._lose(f"{self._device.name}: connection to {self._options.endpoint} lost")

            client.connection_lost_callback = lost
            if self._monitor.set_online(self._options.endpoint):
                self._backoff.reset()
            self._logged_reason = ""
            async with self._lock:
                self._session = session
                await session.apply(self._items)
        except BaseException as exc:  # also when cancelled half-way: close what was opened
            self._session = None
            if session is not None:
                await session.close()
            if not isinstance(exc, Exception):
                raise
            reason = describe(exc, self._device, self._options)
            if not isinstance(exc, (*_LINK_ERRORS, DriverError)) and reason != self._logged_reason:
                log.error("%s: unexpected error while connecting", self._device.name, exc_info=exc)
            self._monitor.connect_failed(reason)
            self._go_offline(reason)
            return None
        return session

    async def run(self, points: Sequence[Point]) -> None:
        """Connect, subscribe and poll, reconnect with backoff after any loss; until cancelled."""
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._apply_points(points)
        try:
            await keep_linked(
                self._open,
                self._serve,
                self._close,
                monitor=self._monitor,
                backoff=self._backoff,
                went_offline=self._go_offline,
            )
        finally:
            self._wake = None
            self._lock = None

    async def _close(self, session: Session) -> None:
        self._session = None
        await session.close()

    async def _serve(self, session: Session) -> str:
        """Wait while the session is healthy; return why it is not."""
        assert self._wake is not None
        self._marked_offline = False
        check = 1.0  # how often subscriptions are checked for silence
        while not self._lost_reason:
            self._wake.clear()
            try:
                async with asyncio.timeout(check):
                    await self._wake.wait()
            except TimeoutError:
                if stale := session.stale():
                    self._lose(f"{self._device.name}: {stale}, reconnecting")
        return self._lost_reason

    # -- writes, browsing, stats ------------------------------------------------------------

    async def write(self, address: Address, value: Any) -> WriteResult:
        """One write attempt with the device timeout, typed by the node's DataType."""
        name = f"{self._device.name}: {address}"
        try:
            where = opcua_address(address)
        except AddressError as exc:
            return WriteResult(False, str(exc))
        if where.member:
            return WriteResult(
                False, f"{name}: cannot write one member (#{address.member}); write the node"
            )
        session = self._session
        if session is None:
            return WriteResult(False, f"{name}: not connected")
        try:
            async with asyncio.timeout(self._device.timeout):
                status = await session.write(where, value)
        except TimeoutError:
            return WriteResult(False, f"{name}: no answer within {self._device.timeout:g}s")
        except ValueError as exc:
            return WriteResult(False, f"{name}: cannot write {value!r}: {exc}")
        except UaStatusCodeError as exc:
            return WriteResult(False, f"{name}: server refused: {status_name(exc.code)}")
        except (ConnectionError, OSError, UaError) as exc:
            return WriteResult(False, f"{name}: {exc!r}")
        if not status.is_good():
            return WriteResult(False, f"{name}: server refused: {status.name} ({status.doc})")
        return WriteResult(True)

    async def browse(self, path: str = "") -> list[BrowseNode]:
        """Children of a node ('' = the Objects folder), over the live session if connected."""
        session = self._session
        if session is not None:
            return await browse(session.client, path)
        return await browse_device(self._device, path)

    def stats(self) -> LinkStats:
        """Current link statistics for this server."""
        return self._monitor.stats()

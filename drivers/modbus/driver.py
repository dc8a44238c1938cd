"""Modbus TCP driver: owns one connection, polls planned blocks per scan class, writes, reconnects.

Built on pymodbus's `AsyncModbusTcpClient` with its own retries and reconnect switched off: this
module owns timeouts (one per request), reconnect with backoff and jitter, and the link state.
Every poll of a scan class pushes one batch of samples to the sink, from the loop running `run`.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import ConnectionException, ModbusException
from pymodbus.pdu import ModbusPDU

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
    parse_duration,
)
from drivers.link import Backoff, LinkMonitor, keep_linked
from drivers.modbus.codec import ModbusAddress, modbus_address, parse_address
from drivers.modbus.plan import Block, DecodeFailure, Request, extract, plan, write_request

log = logging.getLogger("drivers.modbus")
# pymodbus warns on every failed connect and answer; this driver logs each state change once
# with the device name instead, so only pymodbus's errors are let through.
logging.getLogger("pymodbus").setLevel(logging.ERROR)

RESET_AFTER_TIMEOUTS = 3  # consecutive unanswered requests before the socket is reset
_DEFAULTS: dict[str, Any] = {"max_gap": 16, "max_bit_gap": 64, "max_registers": 125}
_DEFAULTS |= {"max_bits": 2000, "reconnect_min": 0.5, "reconnect_max": 30.0}


class _LinkLost(Exception):
    """The connection is gone or must be reset; the message says why."""


def _option(device: DeviceConfig, name: str, kind: type) -> Any:
    raw = device.options.get(name, _DEFAULTS[name])
    try:
        if isinstance(raw, bool):
            raise ValueError("not a number")
        if kind is float:
            return parse_duration(raw)
        return kind(raw)
    except (TypeError, ValueError) as exc:
        raise DriverError(f"{device.name}: option {name}={raw!r}: {exc}") from None


async def cancel_all(tasks: Sequence[asyncio.Task[Any]]) -> list[Any]:
    """Cancel tasks and wait until every one has ended; returns their results or exceptions.

    pymodbus awaits responses with `asyncio.wait_for`, which on Python 3.11 can swallow a
    cancellation that races with a response arriving; such a task would poll on, so it is
    cancelled again until it really ends.
    """
    pending = {t for t in tasks if not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.2)
    return [t.exception() if not t.cancelled() and t.exception() else None for t in tasks]


def next_deadline(deadline: float, now: float, period: float) -> float:
    """The next tick after `deadline` on its fixed grid, skipping ticks already missed at `now`."""
    deadline += period
    if deadline <= now:
        deadline += (math.floor((now - deadline) / period) + 1) * period
    return deadline


def _exception_name(code: int) -> str:
    try:
        return ExcCodes(code).name
    except ValueError:
        return f"exception code {code}"


class ModbusDriver:
    """Modbus TCP client for one device: coalesced polling per scan class, writes, link stats."""

    scheme: ClassVar[str] = "modbus"
    OPTIONS: ClassVar[Mapping[str, type]] = {
        "max_gap": int,
        "max_bit_gap": int,
        "max_registers": int,
        "max_bits": int,
        "reconnect_min": float,
        "reconnect_max": float,
    }

    @classmethod
    def parse(cls, text: str) -> Address:
        """Validate and canonicalise a `modbus://` address; raise AddressError."""
        return parse_address(text)

    @classmethod
    def natural_type(cls, address: Address) -> str:
        """bool for coils, inputs and bits; string; int for integer types; float for floats."""
        where = modbus_address(address)
        if where.is_bits or where.bit is not None or where.dtype == "bool":
            return "bool"
        if where.dtype == "string":
            return "string"
        return "float" if where.dtype.startswith("float") else "int"

    def __init__(self, device: DeviceConfig, sink: Sink) -> None:
        unknown = sorted(set(device.options) - set(self.OPTIONS))
        if unknown:
            expected = ", ".join(self.OPTIONS)
            raise DriverError(f"{device.name}: unknown option {unknown[0]!r} (expected {expected})")
        self._device = device
        self._sink = sink
        self._opts = {name: _option(device, name, kind) for name, kind in self.OPTIONS.items()}
        self._plan_args: dict[str, Any] = {
            k: self._opts[k] for k in ("max_registers", "max_bits", "max_gap", "max_bit_gap")
        }
        try:
            plan([], **self._plan_args)
            self._backoff = Backoff(self._opts["reconnect_min"], self._opts["reconnect_max"])
        except ValueError as exc:
            raise DriverError(f"{device.name}: {exc}") from None
        self._port = device.port or 502
        self._monitor = LinkMonitor(device.name, log)
        self._points: dict[str, ModbusAddress] = {}
        self._plans: dict[float, list[Block]] = {}
        self._block_state: dict[tuple[int, str, int, int], str] = {}
        self._client: AsyncModbusTcpClient | None = None
        self._io_lock: asyncio.Lock | None = None
        self._wake: asyncio.Event | None = None
        self._lost_reason = ""
        self._timeouts_in_row = 0
        self._marked_offline = False
        self._in_flight = False

    def _apply_points(self, points: Sequence[Point]) -> list[str]:
        """Re-plan for `points`; returns the keys that were not there before."""
        scans: dict[str, float] = {}
        wanted: dict[str, ModbusAddress] = {}
        bad: list[Sample] = []
        for point in points:
            try:
                wanted[point.key] = modbus_address(point.address)
            except AddressError as exc:
                log.warning("%s: %s", self._device.name, exc)
                bad.append(Sample(point.key, None, Quality.BAD, Reason.CONFIG_ERROR))
                continue
            scans[point.key] = min(point.scan, scans.get(point.key, math.inf))
        by_scan: dict[float, list[tuple[str, ModbusAddress]]] = {}
        for key, where in wanted.items():
            by_scan.setdefault(max(scans[key], 0.01), []).append((key, where))
        added = [key for key in wanted if key not in self._points]
        self._points = wanted
        self._plans = {scan: plan(members, **self._plan_args) for scan, members in by_scan.items()}
        current = {self._block_id(b) for blocks in self._plans.values() for b in blocks}
        self._block_state = {k: v for k, v in self._block_state.items() if k in current}
        if bad:
            self._sink(bad)
        return added

    async def set_points(self, points: Sequence[Point]) -> None:
        """Replace the set of points while running; re-plans and restarts the scan classes."""
        added = self._apply_points(points)
        if self._marked_offline and added:
            self._sink([Sample(k, None, Quality.BAD, Reason.COMM_FAILURE) for k in added])
        if self._wake is not None:
            self._wake.set()

    def _new_client(self) -> AsyncModbusTcpClient:
        client: AsyncModbusTcpClient | None = None

        def fail_pending(exc: Exception) -> None:
            future = getattr(getattr(client, "ctx", None), "response_future", None)
            if self._in_flight and isinstance(future, asyncio.Future) and not future.done():
                future.set_exception(exc)

        def on_connect(connected: bool) -> None:
            if not connected and client is not None and client is self._client:
                self._lose("connection closed by the device")
                fail_pending(ConnectionException("connection lost"))

        client = AsyncModbusTcpClient(
            self._device.host,
            port=self._port,
            name=self._device.name,
            timeout=2 * self._device.timeout + 1.0,  # backstop only: our own timeouts fire first
            retries=0,
            reconnect_delay=0,  # no pymodbus reconnect: run() owns it
            reconnect_delay_max=0,
            trace_connect=on_connect,
        )
        client.set_max_no_responses(1 << 30)
        original = client.ctx.callback_data

        def guarded(data: bytes, addr: tuple[Any, ...] | None = None) -> int:
            # pymodbus raises out of data_received on an undecodable frame, which asyncio
            # reports with a traceback; treat it as garbage on the stream and reset instead
            try:
                return original(data, addr)
            except ModbusException as exc:
                if client is self._client:
                    self._lose(f"garbled answer, resetting the connection ({exc})")
                    fail_pending(exc)
                return len(data)

        client.ctx.callback_data = guarded  # type: ignore[method-assign]
        return client

    async def _open(self) -> AsyncModbusTcpClient | None:
        client = self._new_client()
        connected = False
        try:
            async with asyncio.timeout(self._device.timeout):
                connected = await client.connect()
        except TimeoutError:
            pass
        finally:
            if not connected:  # also when cancelled mid-connect: leave no socket behind
                client.close()
        if connected:
            return client
        reason = f"cannot connect to {self._device.host}:{self._port}"
        self._monitor.connect_failed(reason)
        self._go_offline(reason)
        return None

    def _lose(self, reason: str) -> None:
        if not self._lost_reason:
            self._lost_reason = reason
        if self._wake is not None:
            self._wake.set()

    def _go_offline(self, reason: str) -> None:
        self._monitor.set_offline(reason)
        if not self._marked_offline and self._points:
            self._sink([Sample(k, None, Quality.BAD, Reason.COMM_FAILURE) for k in self._points])
        self._marked_offline = True

    def _answered(self) -> None:
        self._timeouts_in_row = 0
        if self._monitor.set_online(f"{self._device.host}:{self._port}"):
            self._backoff.reset()

    async def run(self, points: Sequence[Point]) -> None:
        """Connect, poll each scan class, reconnect with backoff after any loss; until cancelled."""
        self._io_lock = asyncio.Lock()
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

    async def _close(self, client: AsyncModbusTcpClient) -> None:
        self._client = None
        client.close()

    async def _serve(self, client: AsyncModbusTcpClient) -> str:
        """Run the scan classes on a connected client until the link is lost; return why."""
        assert self._wake is not None
        self._client = client
        self._lost_reason = ""
        self._timeouts_in_row = 0
        if not self._points:
            self._answered()
        while True:
            self._wake.clear()
            tasks = [
                asyncio.create_task(self._scan(client, scan), name=f"conduit-modbus-scan-{scan}")
                for scan in self._plans
            ]
            for task in tasks:
                task.add_done_callback(lambda _: self._wake.set() if self._wake else None)
            try:
                await self._wake.wait()
            finally:
                results = await cancel_all(tasks)
            for result in results:
                if isinstance(result, Exception):
                    log.error("%s: poll failed", self._device.name, exc_info=result)
                    self._lose(f"internal error: {result!r}")
            if self._lost_reason:
                return self._lost_reason

    async def _scan(self, client: AsyncModbusTcpClient, scan: float) -> None:
        """Poll one scan class on monotonic deadlines, skipping ticks missed by an overrun."""
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        try:
            while True:
                batch: list[Sample] = []
                for block in self._plans.get(scan, []):
                    batch.extend(await self._read_block(client, block))
                if batch:
                    self._marked_offline = False
                    self._sink(batch)
                now = loop.time()
                deadline = next_deadline(deadline, now, scan)
                await asyncio.sleep(deadline - now)
        except _LinkLost as exc:
            self._lose(str(exc))

    @staticmethod
    def _block_id(block: Block) -> tuple[int, str, int, int]:
        return (block.unit, block.table, block.start, block.count)

    def _block_changed(self, block: Block, state: str, detail: str = "") -> None:
        """Log a block's state only when it changes (not on every scan)."""
        previous = self._block_state.get(self._block_id(block))
        self._block_state[self._block_id(block)] = state
        if previous == state or (previous is None and not state):
            return
        if not state:
            log.info("%s: %s answers again", self._device.name, block.describe())
        else:
            log.warning("%s: %s: %s", self._device.name, block.describe(), detail)

    async def _request(
        self, client: AsyncModbusTcpClient, request: Request
    ) -> tuple[ModbusPDU, float]:
        """One request under the I/O lock and the device timeout; raises _LinkLost on loss."""
        assert self._io_lock is not None
        loop = asyncio.get_running_loop()
        async with self._io_lock:
            if self._lost_reason or not client.connected:
                raise _LinkLost(self._lost_reason or "not connected")
            start = loop.time()
            self._in_flight = True
            try:
                method, kwargs = request
                async with asyncio.timeout(self._device.timeout):
                    response: ModbusPDU = await getattr(client, method)(**kwargs)
            except TimeoutError:
                self._monitor.timeout()
                self._timeouts_in_row += 1
                if self._timeouts_in_row >= RESET_AFTER_TIMEOUTS:
                    raise _LinkLost(
                        f"no answer to {self._timeouts_in_row} requests in a row, "
                        "resetting the connection"
                    ) from None
                raise
            except ConnectionException as exc:
                self._monitor.failure(str(exc))
                raise _LinkLost(self._lost_reason or f"connection lost ({exc})") from None
            except ModbusException as exc:  # an answer that does not fit the request
                self._monitor.error(str(exc))
                raise _LinkLost(f"garbled answer, resetting the connection ({exc})") from None
            finally:
                self._in_flight = False
            return response, loop.time() - start

    async def _read_block(self, client: AsyncModbusTcpClient, block: Block) -> list[Sample]:
        def bad(reason: Reason) -> list[Sample]:
            return [Sample(key, None, Quality.BAD, reason) for key, _ in block.members]

        try:
            response, rtt = await self._request(client, block.read_request())
        except TimeoutError:
            self._block_changed(block, "timeout", f"no answer within {self._device.timeout}s")
            return bad(Reason.TIMEOUT)
        if response.isError():
            name = _exception_name(getattr(response, "exception_code", 0))
            self._monitor.error(f"{block.describe()}: {name}")
            self._answered()
            self._block_changed(block, f"device_error:{name}", f"exception {name}")
            return bad(Reason.DEVICE_ERROR)
        data: Sequence[Any] = response.bits if block.table in ("co", "di") else response.registers
        try:
            values = extract(block, data)
        except ValueError as exc:
            self._monitor.error(str(exc))
            self._answered()
            self._block_changed(block, "decode_error", str(exc))
            return bad(Reason.DECODE_ERROR)
        self._monitor.ok(rtt)
        self._answered()
        self._block_changed(block, "")
        return [
            Sample(key, None, Quality.BAD, Reason.DECODE_ERROR)
            if isinstance(value, DecodeFailure)
            else Sample(key, value)
            for key, value in values
        ]

    async def write(self, address: Address, value: Any) -> WriteResult:
        """One write attempt with the device timeout; a typed result, never a silent retry."""
        name = f"{self._device.name}: {address}"
        try:
            where = modbus_address(address)
        except AddressError as exc:
            return WriteResult(False, str(exc))
        try:
            request = write_request(where, value)
        except ValueError as exc:
            return WriteResult(False, f"{name}: cannot write {value!r}: {exc}")
        client = self._client
        if client is None:
            return WriteResult(False, f"{name}: not connected")
        try:
            response, rtt = await self._request(client, request)
        except TimeoutError:
            return WriteResult(False, f"{name}: no answer within {self._device.timeout}s")
        except _LinkLost as exc:
            self._lose(str(exc))
            return WriteResult(False, f"{name}: {exc}")
        self._answered()
        if response.isError():
            code = getattr(response, "exception_code", 0)
            hint = ""
            if where.bit is not None and code == ExcCodes.ILLEGAL_FUNCTION:
                hint = " (the device does not support mask write, FC22, for register bits)"
            self._monitor.error(f"write {address}: {_exception_name(code)}")
            return WriteResult(False, f"{name}: device refused: {_exception_name(code)}{hint}")
        self._monitor.ok(rtt)
        return WriteResult(True)

    def stats(self) -> LinkStats:
        """Current link statistics for this device."""
        return self._monitor.stats()

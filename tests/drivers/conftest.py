"""Driver test fixtures: a real pymodbus TCP server on 127.0.0.1, a sample collector, helpers.

`RawServer` is a bare asyncio TCP server (no pymodbus) that answers with truncated frames,
garbage, an unknown function code, short data, nothing, or correct answers, on demand.

Tests are plain pytest functions that call `run(coro)`; servers and drivers live in that one
event loop. `ModbusTestServer` can stop and restart on the same port (keeping its data), counts
requests by function code on the server side (trace_pdu) and open connections (trace_connect),
and can be told to answer a range with an exception code.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from pymodbus.constants import ExcCodes
from pymodbus.pdu import ModbusPDU
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from drivers.base import DeviceConfig, Point, Quality, Reason, Sample
from drivers.modbus.codec import parse_address
from drivers.modbus.driver import ModbusDriver
from tests.conftest import free_port

T = TypeVar("T")
# function codes -> table, as the server datastore sees them
FC_TABLE = {1: "co", 5: "co", 15: "co", 2: "di", 4: "ir"} | dict.fromkeys((3, 6, 16, 22, 23), "hr")
READ_FC = {"co": 1, "di": 2, "hr": 3, "ir": 4}


def run(coro: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
    """Run `coro` in a fresh event loop, failing (not hanging) after `timeout` seconds."""

    async def bounded() -> T:
        async with asyncio.timeout(timeout):
            return await coro

    return asyncio.run(bounded())


async def wait_for(condition: Callable[[], bool], within: float = 5.0, what: str = "") -> float:
    """Poll `condition` every 10 ms until true; return seconds waited; fail after `within` s."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > within:
            pytest.fail(f"timed out after {within}s waiting for {what or condition}")
        await asyncio.sleep(0.01)
    return time.monotonic() - start


class ModbusTestServer:
    """A pymodbus ModbusTcpServer on 127.0.0.1:`port` with one SimDevice per unit id."""

    def __init__(self, port: int, units: tuple[int, ...] = (1,), size: int = 2000) -> None:
        self.port = port
        self.units = units
        self.size = size  # registers per register table, bits per bit table
        self.requests: collections.Counter[int] = collections.Counter()
        self.connections = 0
        self.failures: list[tuple[int, str, int, int, ExcCodes]] = []
        self.delays: list[tuple[int, str, int, int, float]] = []
        self._server: ModbusTcpServer | None = None
        self._core: Any = None

    def _device(self, unit: int) -> SimDevice:
        def bits() -> list[SimData]:
            return [SimData(0, values=[False] * self.size, datatype=DataType.BITS)]

        def regs() -> list[SimData]:
            return [SimData(0, count=self.size, values=0, datatype=DataType.REGISTERS)]

        def hits(f_unit: int, table: str, first: int, last: int, fc: int, a: int, n: int) -> bool:
            return f_unit == unit and FC_TABLE.get(fc) == table and a <= last and a + n > first

        async def action(fc: int, _start: int, address: int, count: int, *_: Any) -> Any:
            for f_unit, table, first, last, seconds in self.delays:
                if hits(f_unit, table, first, last, fc, address, count):
                    await asyncio.sleep(seconds)
            for f_unit, table, first, last, code in self.failures:
                if hits(f_unit, table, first, last, fc, address, count):
                    return code
            return None

        # non-shared layout (co, di, hr, ir): addresses are zero-based PDU addresses
        return SimDevice(id=unit, simdata=(bits(), bits(), regs(), regs()), action=action)

    def _trace_pdu(self, sending: bool, pdu: ModbusPDU) -> ModbusPDU:
        if not sending:
            self.requests[pdu.function_code] += 1
        return pdu

    def _trace_connect(self, connected: bool) -> None:
        self.connections += 1 if connected else -1

    @property
    def running(self) -> bool:
        """True while listening."""
        return self._server is not None

    def reads(self, table: str = "hr") -> int:
        """Read requests received so far for `table`."""
        return self.requests[READ_FC[table]]

    async def start(self) -> None:
        """Listen on the port (same data as before a stop)."""
        server = ModbusTcpServer(
            [self._device(u) for u in self.units],
            address=("127.0.0.1", self.port),
            trace_pdu=self._trace_pdu,
            trace_connect=self._trace_connect,
        )
        if self._core is None:
            self._core = server.context
        server.context = self._core  # keep values across restarts
        await server.serve_forever(background=True)
        self._server = server

    async def stop(self) -> None:
        """Stop listening and drop every client connection."""
        if self._server is not None:
            await self._server.shutdown()
            self._server = None
            await wait_for(lambda: self.connections == 0, what="server connections closed")

    async def set(self, unit: int, table: str, offset: int, values: list[Any]) -> None:
        """Put registers (or bits) into the server's datastore."""
        assert self._core is not None, "start the server first"
        result = await self._core.async_setValues(unit, READ_FC[table], offset, values)
        assert result is None, result

    async def get(self, unit: int, table: str, offset: int, count: int = 1) -> list[Any]:
        """Registers (or bits) from the server's datastore."""
        assert self._core is not None, "start the server first"
        values: list[Any] = await self._core.async_getValues(unit, READ_FC[table], offset, count)
        return values

    def fail(self, unit: int, table: str, first: int, last: int, code: ExcCodes) -> None:
        """Answer requests touching `first..last` of `table` with exception `code`."""
        self.failures.append((unit, table, first, last, code))

    def delay(self, unit: int, table: str, first: int, last: int, seconds: float) -> None:
        """Answer requests touching `first..last` of `table` only after `seconds`."""
        self.delays.append((unit, table, first, last, seconds))


class RawServer:
    """A bare asyncio TCP server that answers Modbus requests badly (or well) on demand."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.mode = "truncated"
        self.silent: set[int] = set()  # start addresses never answered
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        """Listen on the port."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def stop(self) -> None:
        """Stop listening and close every connection."""
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self._writers.add(writer)
        try:
            while True:
                request = await reader.readexactly(12)  # MBAP(7) + fc + address + count
                tid, unit, fc = request[0:2], request[6], request[7]
                address = int.from_bytes(request[8:10], "big")
                count = int.from_bytes(request[10:12], "big")
                data = b"".join((address + i).to_bytes(2, "big") for i in range(count))
                pdu = bytes([fc, len(data)]) + data
                good = tid + b"\0\0" + (len(pdu) + 1).to_bytes(2, "big") + bytes([unit]) + pdu
                if address in self.silent:
                    continue
                if self.mode == "good":
                    writer.write(good)
                elif self.mode == "truncated":
                    writer.write(good[:5])
                elif self.mode == "garbage":
                    writer.write(b"\xde\xad\xbe\xef" * 4)
                elif self.mode == "short":  # claims fewer registers than asked for
                    pdu = bytes([fc, 2]) + data[:2]
                    writer.write(
                        tid + b"\0\0" + (len(pdu) + 1).to_bytes(2, "big") + bytes([unit]) + pdu
                    )
                elif self.mode == "bad_function":
                    writer.write(good[:7] + b"\x63" + good[8:])
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


class Collector:
    """A driver sink that keeps every batch and the latest sample per key."""

    def __init__(self) -> None:
        self.batches: list[list[Sample]] = []
        self.latest: dict[str, Sample] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.on_batch: Callable[[list[Sample]], None] | None = None

    def __call__(self, batch: list[Sample]) -> None:
        assert asyncio.get_running_loop() is self.loop, "sink called off the driver's loop"
        if self.on_batch is not None:
            self.on_batch(batch)
        self.batches.append(batch)
        for sample in batch:
            self.latest[sample.key] = sample

    def value(self, key: str) -> Any:
        """The latest good value of `key`, or None."""
        sample = self.latest.get(key)
        return sample.value if sample is not None and sample.quality == Quality.GOOD else None

    def reason(self, key: str) -> Reason | None:
        """The reason of the latest sample of `key` (Reason.NONE when good)."""
        sample = self.latest.get(key)
        return None if sample is None else sample.reason

    def all(self, keys: list[str], reason: Reason) -> bool:
        """True when every key's latest sample has `reason` (Reason.NONE: all good)."""
        return all(self.reason(k) == reason for k in keys)


@dataclass
class Running:
    """A driver running in a task, with its sink."""

    driver: ModbusDriver
    sink: Collector
    task: asyncio.Task[None]


def point(text: str, scan: float = 0.05) -> Point:
    """A point for a modbus address on device PLC1."""
    return Point(parse_address(text), scan)


@asynccontextmanager
async def running_driver(
    port: int, points: list[Point], request_timeout: float = 0.5, **options: Any
) -> AsyncIterator[Running]:
    """Run a ModbusDriver against 127.0.0.1:`port`; on exit cancel it and check nothing leaks."""
    options.setdefault("reconnect_min", 0.02)
    options.setdefault("reconnect_max", 0.2)
    device = DeviceConfig("PLC1", "modbus", "127.0.0.1", port, request_timeout, options)
    sink = Collector()
    sink.loop = asyncio.get_running_loop()
    driver = ModbusDriver(device, sink)
    before = asyncio.all_tasks()
    task = asyncio.create_task(driver.run(points), name="conduit-test-driver")
    try:
        yield Running(driver, sink, task)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await wait_for(lambda: not _driver_tasks(before), 2.0, "driver tasks to finish")
        assert driver._client is None


def _driver_tasks(before: set[asyncio.Task[Any]]) -> list[asyncio.Task[Any]]:
    """Tasks started since `before` that are still pending (the driver must leave none)."""
    current = asyncio.current_task()
    return [t for t in asyncio.all_tasks() - before if t is not current and not t.done()]


@pytest.fixture
def modbus_server() -> ModbusTestServer:
    """A (not yet started) test server on a free port with units 1 and 2."""
    return ModbusTestServer(free_port(), units=(1, 2))

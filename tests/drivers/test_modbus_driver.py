"""ModbusDriver against a real pymodbus server (and a raw TCP server) on 127.0.0.1."""

from __future__ import annotations

import itertools
import logging
import math
from typing import Any

import psutil
import pytest
from pymodbus.client.mixin import ModbusClientMixin
from pymodbus.constants import ExcCodes

from drivers import driver_class
from drivers.base import DeviceConfig, DriverError, Reason
from drivers.modbus.codec import DTYPES, ORDERS, parse_address
from drivers.modbus.driver import ModbusDriver, next_deadline
from tests.conftest import free_port
from tests.drivers.conftest import (
    ModbusTestServer,
    RawServer,
    point,
    run,
    running_driver,
    wait_for,
)

DT = ModbusClientMixin.DATATYPE
VALUES: dict[str, Any] = {
    "bool": True,
    "int16": -12345,
    "uint16": 0xA1B2,
    "int32": -123456789,
    "uint32": 0xA1B2C3D4,
    "int64": -1234567890123456789,
    "uint64": 0xA1B2C3D4E5F60718,
    "float32": -1234.5,
    "float64": 6.02214076e23,
    "string": "Pump-01 ok",
}


def server_image(value: Any, dtype: str, order: str, length: int = 0) -> list[int]:
    """Registers as a device would hold them, built with pymodbus's own converter (not ours)."""
    if dtype == "bool":
        registers = [int(value)]
    elif dtype == "string":
        registers = ModbusClientMixin.convert_to_registers(value, DT.STRING)
        registers += [0] * (length - len(registers))
    else:
        word_order = "little" if order in ("CDAB", "DCBA") else "big"
        registers = ModbusClientMixin.convert_to_registers(value, DT[dtype.upper()], word_order)
    if order in ("BADC", "DCBA"):
        registers = [((r & 0xFF) << 8) | (r >> 8) for r in registers]
    return registers


def messages(caplog: pytest.LogCaptureFixture, fragment: str) -> list[str]:
    """Messages of drivers.* records containing `fragment`."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("drivers") and fragment in r.getMessage()
    ]


def test_registered_and_classmethods() -> None:
    assert driver_class("modbus") is ModbusDriver
    assert ModbusDriver.scheme == "modbus"
    assert str(ModbusDriver.parse("modbus://P/1/400101")) == "modbus://P/1/hr/100"
    natural = {
        "1/co/1": "bool",
        "1/di/1": "bool",
        "1/hr/1.4": "bool",
        "1/hr/1?type=bool": "bool",
        "1/hr/1?type=string&len=2": "string",
        "1/ir/1?type=int64": "int",
        "1/hr/1": "int",
        "1/hr/1?type=float64": "float",
    }
    for text, expected in natural.items():
        assert ModbusDriver.natural_type(parse_address("modbus://P/" + text)) == expected


def test_options_are_validated() -> None:
    def make(**options: Any) -> ModbusDriver:
        return ModbusDriver(DeviceConfig("PLC1", "modbus", options=options), lambda b: None)

    make(max_gap=0, reconnect_min="250ms", reconnect_max="2s")
    for options, fragment in [
        ({"max_gapp": 1}, "unknown option 'max_gapp'"),
        ({"max_registers": 126}, "max_registers must be 1..125"),
        ({"max_bits": 0}, "max_bits must be 1..2000"),
        ({"max_gap": "many"}, "option max_gap='many'"),
        ({"reconnect_min": "soon"}, "option reconnect_min='soon'"),
        ({"reconnect_min": 5, "reconnect_max": 1}, "backoff needs"),
    ]:
        with pytest.raises(DriverError, match=fragment):
            make(**options)


def test_every_type_and_order_reads_what_the_server_holds(
    modbus_server: ModbusTestServer,
) -> None:
    expected: dict[str, Any] = {}
    images: list[tuple[int, str, int, list[int]]] = []
    offset = 0
    for dtype in DTYPES:
        for order in ORDERS:
            query = f"?type={dtype}&order={order}" + ("&len=6" if dtype == "string" else "")
            key = point(f"modbus://PLC1/1/hr/{offset}{query}").key
            registers = server_image(VALUES[dtype], dtype, order, 6)
            images.append((1, "hr", offset, registers))
            expected[key] = VALUES[dtype]
            offset += len(registers) + 3
    specials = {
        "modbus://PLC1/1/ir/7?type=int16": ((1, "ir", 7, [0xFFFE]), -2),
        "modbus://PLC1/1/hr/1500?type=float32&order=CDAB": ((1, "hr", 1500, [0, 0x3FC0]), 1.5),
        "modbus://PLC1/1/hr/1600.3": ((1, "hr", 1600, [0b1000]), True),
        "modbus://PLC1/1/hr/1600.2": ((1, "hr", 1600, [0b1000]), False),
        "modbus://PLC1/1/hr/1700?type=string&len=4": ((1, "hr", 1700, [0x4142, 0x4300]), "ABC"),
        "modbus://PLC1/2/hr/0": ((2, "hr", 0, [4242]), 4242),
        "modbus://PLC1/2/hr/1?type=int32": ((2, "hr", 1, [0xFFFF, 0xFFFE]), -2),
    }
    for text, (image, value) in specials.items():
        images.append(image)
        expected[point(text).key] = value
    expected[point("modbus://PLC1/1/co/5").key] = True
    expected[point("modbus://PLC1/1/co/6").key] = False
    expected[point("modbus://PLC1/1/di/9").key] = True
    expected[point("modbus://PLC1/2/di/9").key] = False
    points = [point(k) for k in expected]

    async def scenario() -> None:
        server = modbus_server
        await server.start()
        for unit, table, at, registers in images:
            await server.set(unit, table, at, registers)
        await server.set(1, "co", 5, [True, False])
        await server.set(1, "di", 9, [True])
        async with running_driver(server.port, points) as running:
            sink = running.sink
            await wait_for(lambda: sink.all(list(expected), Reason.NONE), what="all good")
            assert {k: sink.value(k) for k in expected} == expected
            assert server.connections == 1  # both unit ids on one connection
            stats = running.driver.stats()
            assert stats.online and stats.rtt_p50_ms is not None and stats.loss_pct == 0.0
        await server.stop()

    run(scenario())


def test_1000_contiguous_registers_take_8_requests_per_scan(
    modbus_server: ModbusTestServer,
) -> None:
    points = [point(f"modbus://PLC1/1/hr/{i}", scan=0.1) for i in range(1000)]
    keys = [p.key for p in points]
    reads_at_batch: list[int] = []

    async def scenario() -> None:
        server = modbus_server
        await server.start()
        await server.set(1, "hr", 0, [(i * 7) % 65536 for i in range(1000)])
        async with running_driver(server.port, points) as running:
            running.sink.on_batch = lambda batch: reads_at_batch.append(server.reads("hr"))
            await wait_for(lambda: len(reads_at_batch) >= 4, what="4 scans")
            assert running.sink.all(keys, Reason.NONE)
            assert [running.sink.value(k) for k in keys] == [(i * 7) % 65536 for i in range(1000)]
            assert all(len(b) == 1000 for b in running.sink.batches)  # one batch per scan
        await server.stop()

    run(scenario())
    per_scan = [b - a for a, b in itertools.pairwise(reads_at_batch)]
    assert reads_at_batch[0] <= math.ceil(1000 / 125)
    assert len(per_scan) >= 3 and all(n == 8 for n in per_scan), per_scan  # at most 8: exactly


def test_link_loss_marks_bad_and_recovers_with_one_log_line_each(
    modbus_server: ModbusTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="drivers")
    points = [point(f"modbus://PLC1/1/hr/{i}", scan=0.1) for i in range(4)]
    keys = [p.key for p in points]
    timeout, scan = 0.5, 0.1

    async def scenario() -> None:
        server = modbus_server
        await server.start()
        async with running_driver(server.port, points, timeout) as running:
            sink = running.sink
            await wait_for(lambda: sink.all(keys, Reason.NONE), what="good")
            caplog.clear()
            offline_batches = len(sink.batches)
            await server.stop()
            took = await wait_for(lambda: sink.all(keys, Reason.COMM_FAILURE), what="bad")
            assert took <= timeout + scan
            # all points went bad in one batch
            assert any(
                len(b) == 4 and all(s.reason == Reason.COMM_FAILURE for s in b)
                for b in sink.batches[offline_batches:]
            )
            # stay down long enough for several refused reconnects
            await wait_for(lambda: running.driver.stats().requests >= 10, what="retries")
            await server.start()
            await wait_for(lambda: sink.all(keys, Reason.NONE), 5.0, "good again")
            stats = running.driver.stats()
            assert stats.online and stats.reconnects >= 1 and stats.loss_pct > 0
        await server.stop()

    run(scenario())
    assert len(messages(caplog, "offline")) == 1, messages(caplog, "")
    assert len(messages(caplog, "online")) == 1, messages(caplog, "")


def test_exception_answers_mark_only_their_block_and_log_once_per_change(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="drivers")
    server = ModbusTestServer(free_port(), size=100)
    ok_key = point("modbus://PLC1/1/hr/10").key
    busy_key = point("modbus://PLC1/1/hr/50").key
    beyond_key = point("modbus://PLC1/1/hr/120").key
    points = [point(k, scan=0.05) for k in (ok_key, busy_key, beyond_key)]

    async def scenario() -> None:
        await server.start()
        async with running_driver(server.port, points) as running:
            sink = running.sink

            async def scans(n: int) -> None:
                target = len(sink.batches) + n
                await wait_for(lambda: len(sink.batches) >= target, what=f"{n} scans")

            await wait_for(lambda: sink.reason(beyond_key) == Reason.DEVICE_ERROR)
            await scans(5)
            assert sink.reason(ok_key) == sink.reason(busy_key) == Reason.NONE
            server.fail(1, "hr", 50, 50, ExcCodes.DEVICE_BUSY)
            await wait_for(lambda: sink.reason(busy_key) == Reason.DEVICE_ERROR)
            await scans(5)
            assert sink.reason(ok_key) == Reason.NONE
            assert sink.reason(beyond_key) == Reason.DEVICE_ERROR
            server.failures.clear()
            await wait_for(lambda: sink.reason(busy_key) == Reason.NONE)
            await scans(5)
            assert running.driver.stats().errors >= 10
        await server.stop()

    run(scenario())
    assert messages(caplog, "hr 120..120") == [
        "PLC1: unit 1 hr 120..120: exception ILLEGAL_ADDRESS"
    ]
    assert messages(caplog, "hr 50..50") == [
        "PLC1: unit 1 hr 50..50: exception DEVICE_BUSY",
        "PLC1: unit 1 hr 50..50 answers again",
    ]
    assert messages(caplog, "hr 10..10") == []


def test_an_unanswered_block_times_out_alone() -> None:
    raw = RawServer(free_port())
    raw.mode = "good"
    raw.silent.add(100)
    fast_key = point("modbus://PLC1/1/hr/0").key
    slow_key = point("modbus://PLC1/1/hr/100").key
    points = [point(fast_key, scan=0.1), point(slow_key, scan=0.1)]

    async def scenario() -> None:
        await raw.start()
        async with running_driver(raw.port, points, request_timeout=0.1) as running:
            sink = running.sink
            await wait_for(lambda: sink.reason(slow_key) == Reason.TIMEOUT, what="timeout")
            await wait_for(lambda: running.driver.stats().timeouts >= 4, what="4 timeouts")
            assert sink.reason(fast_key) == Reason.NONE and sink.value(fast_key) == 0
            assert all(s.reason != Reason.COMM_FAILURE for b in sink.batches for s in b)
            assert raw.accepted == 1  # answers in between: no reset
            raw.silent.clear()
            await wait_for(lambda: sink.value(slow_key) == 100, what="slow block good")
        await raw.stop()

    run(scenario())


def test_short_answers_are_decode_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="drivers")
    raw = RawServer(free_port())
    raw.mode = "short"
    points = [point("modbus://PLC1/1/hr/3?type=uint32", scan=0.05)]

    async def scenario() -> None:
        await raw.start()
        async with running_driver(raw.port, points) as running:
            sink = running.sink
            await wait_for(lambda: sink.reason(points[0].key) == Reason.DECODE_ERROR)
            await wait_for(lambda: len(sink.batches) >= 5, what="5 scans")
            raw.mode = "good"
            await wait_for(lambda: sink.value(points[0].key) == (3 << 16) + 4, what="good")
            assert raw.accepted == 1 and running.driver.stats().errors >= 3
        await raw.stop()

    run(scenario())
    assert messages(caplog, "short answer") == [
        "PLC1: unit 1 hr 3..4: short answer: 1 of 2 registers"
    ]


def test_scan_deadlines_keep_their_grid_and_skip_missed_ticks() -> None:
    assert next_deadline(10.0, 10.02, 0.1) == pytest.approx(10.1)  # on time
    assert next_deadline(10.0, 10.25, 0.1) == pytest.approx(10.3)  # overran: 10.1, 10.2 skipped
    assert next_deadline(10.0, 10.35, 0.1) == pytest.approx(10.4)  # three ticks missed
    deadline = 0.0
    for step in range(1000):  # no drift: still on the grid after many ticks
        deadline = next_deadline(deadline, step * 0.1 + 0.05, 0.1)
    assert deadline == pytest.approx(100.0)


def test_garbage_answers_keep_the_driver_running_until_the_device_answers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="drivers")
    raw = RawServer(free_port())
    points = [point("modbus://PLC1/1/hr/3", scan=0.05), point("modbus://PLC1/1/hr/4", scan=0.05)]
    keys = [p.key for p in points]

    async def scenario() -> None:
        await raw.start()
        async with running_driver(raw.port, points, request_timeout=0.1) as running:
            sink = running.sink
            for mode in ("truncated", "garbage", "bad_function"):
                raw.mode = mode
                accepted = raw.accepted
                # the desynchronised stream is reset: a new connection arrives
                await wait_for(lambda a=accepted: raw.accepted >= a + 2, what=f"reset ({mode})")
                assert all(sink.reason(k) in (Reason.TIMEOUT, Reason.COMM_FAILURE) for k in keys)
                assert not running.task.done()
            raw.mode = "good"
            await wait_for(lambda: sink.all(keys, Reason.NONE), 5.0, "good answers")
            assert [sink.value(k) for k in keys] == [3, 4]
            await raw.stop()
            modbus = ModbusTestServer(raw.port)  # replaced by a real server
            await modbus.start()
            await modbus.set(1, "hr", 3, [33, 44])
            await wait_for(lambda: [sink.value(k) for k in keys] == [33, 44], 5.0, "real server")
            await modbus.stop()
        assert raw.accepted >= 6

    run(scenario())
    assert len(messages(caplog, "offline")) == 2, messages(caplog, "")  # garbage, then the swap
    assert len(messages(caplog, "online")) == 2, messages(caplog, "")


def test_writes_then_read_back(modbus_server: ModbusTestServer) -> None:
    texts = {
        "u16": "modbus://PLC1/1/hr/5",
        "f32": "modbus://PLC1/1/hr/10?type=float32&order=CDAB",
        "i16": "modbus://PLC1/2/hr/12?type=int16",
        "coil": "modbus://PLC1/1/co/3",
        "bit": "modbus://PLC1/1/hr/20.2",
        "text": "modbus://PLC1/1/hr/30?type=string&len=3",
    }
    addr = {name: parse_address(text) for name, text in texts.items()}
    points = [point(text) for text in texts.values()]

    async def scenario() -> None:
        server = modbus_server
        await server.start()
        await server.set(1, "hr", 20, [0b1000_0001])
        async with running_driver(server.port, points) as running:
            driver, sink = running.driver, running.sink
            await wait_for(lambda: sink.all([p.key for p in points], Reason.NONE))
            wanted = {"u16": 54321, "f32": -2.75, "i16": -300, "coil": True, "bit": True}
            wanted["text"] = "hello"
            for name, value in wanted.items():
                result = await driver.write(addr[name], value)
                assert result.ok, result.error
            for name, value in wanted.items():
                key = addr[name].key
                await wait_for(lambda k=key, v=value: sink.value(k) == v, what=f"read back {name}")
            assert await server.get(1, "hr", 10, 2) == server_image(-2.75, "float32", "CDAB")
            assert await server.get(1, "hr", 20) == [0b1000_0101]  # mask write kept the others
            assert await server.get(1, "co", 3) == [True]
            assert (await driver.write(addr["bit"], False)).ok
            assert await server.get(1, "hr", 20) == [0b1000_0001]

            refused = await driver.write(parse_address("modbus://PLC1/1/ir/5"), 1)
            assert not refused.ok and "input registers are read-only" in refused.error
            refused = await driver.write(parse_address("modbus://PLC1/1/di/5"), True)
            assert not refused.ok and "discrete inputs are read-only" in refused.error
            too_big = await driver.write(addr["i16"], 40000)
            assert not too_big.ok and "out of range for int16" in too_big.error
            beyond = await driver.write(parse_address("modbus://PLC1/1/hr/3000"), 1)
            assert not beyond.ok and "ILLEGAL_ADDRESS" in beyond.error
            server.fail(1, "hr", 20, 20, ExcCodes.ILLEGAL_FUNCTION)  # as if FC22 were missing
            no_fc22 = await driver.write(addr["bit"], True)
            assert not no_fc22.ok and "does not support mask write" in no_fc22.error
            assert driver.stats().errors >= 2
        offline = await driver.write(addr["u16"], 1)
        assert not offline.ok and "not connected" in offline.error
        await server.stop()

    run(scenario())


def test_set_points_and_scan_classes(modbus_server: ModbusTestServer) -> None:
    fast = point("modbus://PLC1/1/hr/0", scan=0.05)
    slow = point("modbus://PLC1/1/hr/1", scan=0.4)
    later = point("modbus://PLC1/1/ir/2?type=int16", scan=0.05)

    async def scenario() -> None:
        server = modbus_server
        await server.start()
        await server.set(1, "hr", 0, [10, 11])
        await server.set(1, "ir", 2, [0xFFFF])
        async with running_driver(server.port, [fast, slow]) as running:
            sink = running.sink

            def count(key: str) -> int:
                return sum(1 for b in sink.batches if b[0].key == key)

            await wait_for(lambda: count(slow.key) >= 3, what="3 slow scans")
            sizes = [[s.key for s in b] for b in sink.batches]
            assert all(keys in ([fast.key], [slow.key]) for keys in sizes)  # one batch per class
            assert count(fast.key) >= 4 * (count(slow.key) - 1), (count(fast.key), count(slow.key))
            await running.driver.set_points([fast, later])
            await wait_for(lambda: sink.value(later.key) == -1, what="new point")
            seen = len(sink.batches)
            await wait_for(lambda: len(sink.batches) >= seen + 10, what="more scans")
            assert all(s.key != slow.key for b in sink.batches[seen:] for s in b)
        await server.stop()

    run(scenario())


def test_cancel_leaves_no_socket_and_no_task(modbus_server: ModbusTestServer) -> None:
    points = [point("modbus://PLC1/1/hr/0")]

    def client_sockets(port: int) -> list[Any]:
        return [
            c
            for c in psutil.Process().net_connections(kind="tcp")
            if c.raddr and c.raddr.port == port
        ]

    async def scenario() -> None:
        server = modbus_server
        await server.start()
        async with running_driver(server.port, points) as running:
            await wait_for(lambda: running.sink.all([points[0].key], Reason.NONE))
            assert server.connections == 1 and len(client_sockets(server.port)) == 1
        # running_driver has cancelled run() and checked that no task is left
        assert running.task.cancelled()
        await wait_for(lambda: server.connections == 0, 2.0, "server sees the close")
        assert client_sockets(server.port) == []
        batches = len(running.sink.batches)
        await server.stop()
        assert len(running.sink.batches) == batches
        # cancelled while reconnecting to nothing: still nothing left behind
        async with running_driver(server.port, points) as down:
            await wait_for(lambda: down.driver.stats().requests >= 3, what="failed connects")
            assert down.sink.all([points[0].key], Reason.COMM_FAILURE)
        assert down.task.cancelled() and client_sockets(server.port) == []

    run(scenario())


def test_pymodbus_datastore_addressing_semantics() -> None:
    """Pin pymodbus 3.16 behaviour the tests and the simulator rely on."""
    from pymodbus.datastore import ModbusDeviceContext, ModbusSequentialDataBlock
    from pymodbus.simulator import DataType, SimData

    with pytest.raises(TypeError):
        ModbusSequentialDataBlock(0, [1, 2, 3])  # would be SimData(address=-1)
    block = ModbusSequentialDataBlock(1, [10, 11, 12])
    assert block.simdata[0].address == 0  # value[0] sits at zero-based PDU address 0
    assert SimData(0, values=[10, 11, 12], datatype=DataType.REGISTERS).address == 0

    port = free_port()

    async def scenario() -> None:
        from pymodbus.client import AsyncModbusTcpClient
        from pymodbus.datastore import ModbusServerContext
        from pymodbus.server import ModbusTcpServer

        context = ModbusServerContext(devices={1: ModbusDeviceContext(hr=block)})
        server = ModbusTcpServer(context, address=("127.0.0.1", port))
        await server.serve_forever(background=True)
        client = AsyncModbusTcpClient("127.0.0.1", port=port, retries=0, reconnect_delay=0)
        assert await client.connect()
        response = await client.read_holding_registers(0, count=3, device_id=1)
        assert response.registers == [10, 11, 12]
        client.close()
        await server.shutdown()

    run(scenario())

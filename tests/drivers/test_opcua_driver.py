"""OpcUaDriver against a real asyncua server on 127.0.0.1 (one per module: they start slowly).

Tests that change node values use nodes no other test reads; the restart test leaves the
server running again, so the order of the tests does not matter.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from asyncua import ua

from drivers.base import DeviceConfig, Point, Quality, Reason
from drivers.opcua.browse import browse_device
from drivers.opcua.driver import OpcUaDriver
from tests.conftest import free_port
from tests.drivers.conftest import Collector, run, wait_for
from tests.drivers.opcua_server import OpcUaTestServer


@pytest.fixture(scope="module")
def server() -> Iterator[OpcUaTestServer]:
    """One asyncua server for the module, with 300 bulk nodes."""
    srv = OpcUaTestServer(free_port(), bulk=300)
    srv.start_sync()
    yield srv
    srv.close()


@dataclass
class Running:
    """A driver running in a task, with its sink."""

    driver: OpcUaDriver
    sink: Collector
    task: asyncio.Task[None]


def device(srv: OpcUaTestServer, password: str | None = None, **options: Any) -> DeviceConfig:
    """The test server as a device, with short reconnect delays and a fast publishing rate."""
    options.setdefault("reconnect_min", 0.05)
    options.setdefault("reconnect_max", 0.3)
    options.setdefault("publishing_interval", 0.05)
    return DeviceConfig("UA1", "opcua", "127.0.0.1", srv.port, 2.0, options, password=password)


def pt(srv: OpcUaTestServer, name: str, suffix: str = "", scan: float = 0.05) -> Point:
    """A point on one of the server's nodes; `suffix` adds ?query and/or #member."""
    return Point(OpcUaDriver.parse(f"opcua://UA1/{srv.nodeid(name)}{suffix}"), scan)


@asynccontextmanager
async def running(
    srv: OpcUaTestServer, points: list[Point], password: str | None = None, **options: Any
) -> AsyncIterator[Running]:
    """Run a driver against the server; on exit cancel it and check it leaves nothing behind."""
    sink = Collector()
    sink.loop = asyncio.get_running_loop()
    driver = OpcUaDriver(device(srv, password, **options), sink)
    before = asyncio.all_tasks()
    task = asyncio.create_task(driver.run(points), name="conduit-test-driver")
    try:
        yield Running(driver, sink, task)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        current = asyncio.current_task()

        def left() -> list[asyncio.Task[Any]]:
            return [t for t in asyncio.all_tasks() - before if t is not current and not t.done()]

        for _ in range(300):
            if not left():
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail(f"the driver left tasks running: {left()}")
        assert driver._session is None


def good(sink: Collector, points: list[Point]) -> bool:
    """True when every point's latest sample is good."""
    return all(sink.reason(p.key) == Reason.NONE for p in points)


def test_subscribed_values_arrive_typed_with_members(server: OpcUaTestServer) -> None:
    points = [
        pt(server, "FT101"),
        pt(server, "Name"),
        pt(server, "Temps"),
        pt(server, "Temps", "#2"),
        pt(server, "泵1"),
        pt(server, "Numeric"),
        pt(server, "ReadOnly"),
        Point(OpcUaDriver.parse("opcua://UA1/nsu=urn:conduit:test;s=HS1.Name"), 0.05),
        Point(OpcUaDriver.parse("opcua://UA1/i=2256#State"), 0.05),
        Point(OpcUaDriver.parse("opcua://UA1/i=2256#BuildInfo.ProductName"), 0.05),
    ]

    async def body() -> None:
        async with running(server, points) as r:
            await wait_for(lambda: good(r.sink, points), 5.0, "all values good")
            values = [r.sink.value(p.key) for p in points]
            assert values == [
                pytest.approx(1.5),
                "Boiler 1",
                [1.0, 2.0, 3.0, 4.0],
                3.0,
                pytest.approx(3.3),
                42,
                7.0,
                "Boiler 1",
                0,  # ServerState.Running
                "FreeOpcUa Python Server",
            ]
            assert all(r.sink.latest[p.key].source_ts for p in points)
            first = next(b for b in r.sink.batches if any(s.quality == Quality.GOOD for s in b))
            assert len(first) >= 8  # the initial values come as one batch, not one call each
            stats = r.driver.stats()
            assert stats.online and stats.requests > 0 and stats.rtt_p50_ms is not None

    run(body())


def test_a_change_arrives_once_with_its_source_timestamp(server: OpcUaTestServer) -> None:
    count = pt(server, "Count")
    when = datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.UTC)

    async def body() -> None:
        async with running(server, [count]) as r:
            await wait_for(lambda: r.sink.value(count.key) is not None, 5.0, "first value")
            await server.set("Count", 1234, when=when)
            await wait_for(lambda: r.sink.value(count.key) == 1234, 5.0, "the new value")
            assert r.sink.latest[count.key].source_ts == when.timestamp()
            await server.set("Count", 1235)  # a later change: by then any duplicate is in
            await wait_for(lambda: r.sink.value(count.key) == 1235, 5.0, "the next value")
            samples = [s for b in r.sink.batches for s in b if s.value == 1234]
            assert len(samples) == 1

    run(body())


def test_many_changes_come_in_few_batches(server: OpcUaTestServer) -> None:
    points = [pt(server, f"Bulk.{i}") for i in range(10, 110)]

    async def body() -> None:
        async with running(server, points, batch_size=30) as r:  # 4 CreateMonitoredItems
            await wait_for(lambda: good(r.sink, points), 5.0, "all values good")
            calls = len(r.sink.batches)
            await server.set_many({f"Bulk.{i}": 1000.0 + i for i in range(10, 110)})
            await wait_for(
                lambda: all(r.sink.value(p.key) == 1000.0 + i for i, p in enumerate(points, 10)),
                5.0,
                "100 new values",
            )
            assert len(r.sink.batches) - calls <= 3  # per publish response, not per change

    run(body())


def test_status_codes_map_to_quality(server: OpcUaTestServer) -> None:
    status = pt(server, "Status")
    codes = ua.StatusCodes

    async def body() -> None:
        async with running(server, [status]) as r:
            await wait_for(lambda: r.sink.value(status.key) is not None, 5.0, "first value")
            for code, quality, reason, value in [
                (codes.BadDeviceFailure, Quality.BAD, Reason.DEVICE_ERROR, None),
                (codes.UncertainLastUsableValue, Quality.UNCERTAIN, Reason.STALE, 5.0),
                (codes.BadCommunicationError, Quality.BAD, Reason.COMM_FAILURE, None),
                (codes.BadTimeout, Quality.BAD, Reason.TIMEOUT, None),
                (codes.Good, Quality.GOOD, Reason.NONE, 6.0),
            ]:
                await server.set("Status", value if value is not None else 0.0, code)

                def arrived(q: Quality = quality, why: Reason = reason, v: Any = value) -> bool:
                    s = r.sink.latest[status.key]
                    return (s.quality, s.reason, s.value) == (q, why, v)

                await wait_for(arrived, 5.0, f"status {ua.StatusCode(code).name}")

    run(body())


def test_poll_mode_reads_at_its_interval(server: OpcUaTestServer) -> None:
    points = [pt(server, f"Bulk.{i}", "?mode=poll&interval=100ms") for i in range(5)]
    points.append(
        Point(OpcUaDriver.parse("opcua://UA1/nsu=urn:conduit:test;s=Bulk.5?mode=poll"), 0.1)
    )

    async def body() -> None:
        async with running(server, points) as r:
            await wait_for(lambda: good(r.sink, points), 5.0, "polled values")
            assert r.driver._session is not None and not r.driver._session._subs  # no subscription
            await server.set("Bulk.0", -1.0)
            await wait_for(lambda: r.sink.value(points[0].key) == -1.0, 5.0, "the polled change")
            reads = [b for b in r.sink.batches if len(b) == len(points)]
            assert len(reads) >= 2  # one batch per poll cycle, all points in it

    run(body())


def test_writes_use_the_node_type(server: OpcUaTestServer) -> None:
    async def body() -> None:
        async with running(server, [pt(server, "TT101")]) as r:
            await wait_for(lambda: r.driver.stats().online, 5.0, "online")
            driver = r.driver
            assert (await driver.write(pt(server, "TT101").address, 42.5)).ok
            assert (await driver.write(pt(server, "PT101").address, 7.0)).ok
            assert (await driver.write(pt(server, "Pump").address, True)).ok
            tt, p, pump = [(await server.get(n)).Value for n in ("TT101", "PT101", "Pump")]
            assert (tt.Value, tt.VariantType) == (42.5, ua.VariantType.Double)
            assert (p.Value, p.VariantType) == (7, ua.VariantType.Int16)
            assert (pump.Value, pump.VariantType) == (True, ua.VariantType.Boolean)
            await wait_for(lambda: r.sink.value(pt(server, "TT101").key) == 42.5, 5.0, "read back")

            refused = await driver.write(pt(server, "ReadOnly").address, 1.0)
            assert not refused.ok
            assert "HS1.ReadOnly" in refused.error and "server refused: Bad" in refused.error
            too_big = await driver.write(pt(server, "PT101").address, 40000)
            assert not too_big.ok and "out of range for Int16" in too_big.error
            member = await driver.write(pt(server, "Temps", "#1").address, 1.0)
            assert not member.ok and "cannot write one member" in member.error
            unknown = await driver.write(OpcUaDriver.parse("opcua://UA1/ns=2;s=Nope"), 1.0)
            assert not unknown.ok and "BadNodeIdUnknown" in unknown.error
            assert (await server.get("ReadOnly")).Value.Value == 7.0

    run(body())


def test_browse_running_and_standalone(server: OpcUaTestServer) -> None:
    async def body() -> None:
        standalone = await browse_device(device(server), "")
        assert {"Plant", "Server"} <= {n.browse_name for n in standalone}
        plant = next(n for n in standalone if n.browse_name == "Plant")
        assert (plant.node_class, plant.node_id, plant.has_children) == (
            "Object",
            "ns=2;s=Plant",
            True,
        )
        async with running(server, [pt(server, "Name")]) as r:
            await wait_for(lambda: r.driver.stats().online, 5.0, "online")
            folders = await r.driver.browse(plant.node_id)
            assert [(n.browse_name, n.node_class) for n in folders][:2] == [
                ("Bulk", "Object"),
                ("HS1", "Object"),
            ]
            nodes = {n.browse_name: n for n in await r.driver.browse("nsu=urn:conduit:test;s=HS1")}
            assert {k: v.data_type for k, v in nodes.items() if k != "泵1"} == {
                "TT101": "Double",
                "FT101": "Float",
                "PT101": "Int16",
                "Count": "Int32",
                "Pump": "Boolean",
                "Name": "String",
                "Temps": "Double",
                "Status": "Double",
                "ReadOnly": "Double",
                "Numeric": "UInt32",
            }
            assert nodes["TT101"].node_class == "Variable" and nodes["TT101"].writable
            assert not nodes["ReadOnly"].writable
            assert nodes["泵1"].node_id == "ns=2;s=HS1.泵1"

    run(body())


def test_set_points_adds_and_removes_monitored_items(server: OpcUaTestServer) -> None:
    first = [pt(server, f"Bulk.{i}") for i in range(120, 125)]
    second = [pt(server, f"Bulk.{i}") for i in range(123, 130)]
    scalar_member = pt(server, "Bulk.123", "#0")  # shares Bulk.123's item; not an array

    async def body() -> None:
        async with running(server, first) as r:
            await wait_for(lambda: good(r.sink, first), 5.0, "first points")
            await r.driver.set_points([*second, scalar_member])
            await wait_for(lambda: good(r.sink, second), 5.0, "second points")
            assert r.sink.reason(scalar_member.key) == Reason.DECODE_ERROR  # at once: cached
            session = r.driver._session
            assert session is not None
            assert sorted(session._lives) == sorted({p.address.key for p in second})
            assert sum(len(s.lives) for s in session._subs.values()) == 7
            r.sink.batches.clear()
            await server.set_many({"Bulk.120": 5.0, "Bulk.129": 6.0})
            await wait_for(lambda: r.sink.value(second[6].key) == 6.0, 5.0, "a new point's change")
            assert first[0].key not in {s.key for b in r.sink.batches for s in b}

    run(body())


def test_login_with_the_right_and_a_wrong_password(
    server: OpcUaTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="drivers")
    name = pt(server, "Name")

    async def body() -> None:
        async with running(server, [name], password="secret", username="operator") as r:
            await wait_for(lambda: r.sink.value(name.key) == "Boiler 1", 5.0, "value after login")
        async with running(server, [name], password="wrong", username="operator") as r:
            await wait_for(lambda: r.driver._monitor.failures >= 3, 10.0, "three login attempts")
            error = r.driver.stats().last_error
            assert "login refused for user 'operator' (BadUserAccessDenied)" in error
            assert "password stored in the keyring" in error
            assert not r.task.done()  # still retrying
            assert r.sink.reason(name.key) == Reason.COMM_FAILURE
        said = [rec for rec in caplog.records if "login refused" in rec.getMessage()]
        assert len(said) == 1 and not said[0].exc_info

    run(body())


def test_cancel_closes_the_session_and_leaves_no_task(server: OpcUaTestServer) -> None:
    points = [pt(server, "Name"), pt(server, "Bulk.7", "?mode=poll&interval=50ms")]

    async def body() -> None:
        before = server.sessions()
        async with running(server, points) as r:
            await wait_for(lambda: good(r.sink, points), 5.0, "values")
            assert server.sessions() == before + 1
        await wait_for(lambda: server.sessions() == before, 2.0, "the server to drop the session")

    run(body())


def test_server_restart_bad_then_good_again(
    server: OpcUaTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="drivers")
    points = [pt(server, "Bulk.250"), pt(server, "Bulk.251", "?mode=poll&interval=100ms")]
    points.append(Point(OpcUaDriver.parse("opcua://UA1/nsu=urn:conduit:test;s=Bulk.252"), 0.05))

    async def body() -> None:
        async with running(server, points) as r:
            await wait_for(lambda: good(r.sink, points), 5.0, "values")
            caplog.clear()
            await server.stop()
            await wait_for(lambda: r.sink.all([p.key for p in points], Reason.COMM_FAILURE), 5.0)
            lost = [b for b in r.sink.batches if b[0].reason == Reason.COMM_FAILURE]
            assert len(lost) == 1 and len(lost[0]) == len(points)  # one batch for all points
            await server.set("Bulk.250", 777.0)
            await server.start()
            await wait_for(
                lambda: r.sink.value(points[0].key) == 777.0, 10.0, "value after restart"
            )
            await wait_for(lambda: good(r.sink, points), 5.0, "all good again")
            assert r.driver.stats().reconnects >= 1 and r.driver.stats().online
            offline = [rec for rec in caplog.records if "offline" in rec.getMessage()]
            online = [rec for rec in caplog.records if "online" in rec.getMessage()]
            assert len(offline) == 1 and len(online) == 1

    run(body())


def test_members_of_a_custom_structure() -> None:
    """The type is defined only in the server's process: the driver loads it, then decodes."""
    port = free_port()
    command = [sys.executable, "-m", "tests.drivers.opcua_server", str(port), "--bulk", "0"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        assert not hasattr(ua, "PumpStatus")  # so this process cannot decode it yet
        points = [
            Point(OpcUaDriver.parse(f"opcua://UA1/ns=2;s=HS1.Pump1#{field}"), 0.05)
            for field in ("Running", "Speed")
        ]
        sink = Collector()

        async def body() -> None:
            sink.loop = asyncio.get_running_loop()
            device = DeviceConfig("UA1", "opcua", "127.0.0.1", port, 2.0, {})
            task = asyncio.create_task(OpcUaDriver(device, sink).run(points))
            try:
                await wait_for(lambda: good(sink, points), 10.0, "structure members")
            finally:
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task

        run(body())
        assert [sink.value(p.key) for p in points] == [True, 1450.0]
        assert all(s.quality == Quality.GOOD for b in sink.batches for s in b)  # no decode error
    finally:
        proc.terminate()
        proc.wait(10)

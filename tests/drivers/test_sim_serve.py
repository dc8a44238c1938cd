"""The heating simulator over real Modbus TCP, read and written with a plain pymodbus client."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import psutil
import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from drivers.modbus.codec import decode
from drivers.sim.faults import Offline
from drivers.sim.plant import PlantConfig
from drivers.sim.registers import BY_NAME, REGISTERS, STATIONS, Register
from drivers.sim.serve import HeatingSimulator, endpoints_for
from drivers.sim.serve import run as run_blocking
from tests.conftest import free_port

T = TypeVar("T")
CONFIG = PlantConfig(warmup_s=2 * 3600.0)


def run(coro: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
    """Run one async test body with a hard time limit."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
    """Wait until `check()` is true, polling; fail after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def free_endpoints() -> dict[str, tuple[str, int]]:
    return {station: ("127.0.0.1", free_port()) for station in STATIONS}


async def client_for(sim: HeatingSimulator, station: str) -> AsyncModbusTcpClient:
    host, port = sim.endpoints[station]
    client = AsyncModbusTcpClient(host, port=port, timeout=1, retries=0, reconnect_delay=0)
    assert await client.connect()
    return client


async def read_point(client: AsyncModbusTcpClient, reg: Register) -> float | bool:
    """Read one point at its register-map offset and decode it like a SCADA would."""
    if reg.table == "co":
        reply = await client.read_coils(reg.offset, count=1, device_id=reg.unit_id)
        return bool(reply.bits[0])
    if reg.table == "di":
        reply = await client.read_discrete_inputs(reg.offset, count=1, device_id=reg.unit_id)
        return bool(reply.bits[0])
    read = client.read_input_registers if reg.table == "ir" else client.read_holding_registers
    reply = await read(reg.offset, count=reg.count, device_id=reg.unit_id)
    assert not reply.isError(), (reg.name, reply)
    return float(decode(reply.registers, reg.dtype, reg.order)) * reg.scale


def test_endpoints_for() -> None:
    assert endpoints_for(15020) == {
        "HS1": ("127.0.0.1", 15020),
        "SS1": ("127.0.0.1", 15021),
        "SS2": ("127.0.0.1", 15022),
        "SS3": ("127.0.0.1", 15023),
        "SS4": ("127.0.0.1", 15024),
    }
    assert endpoints_for(502, host="0.0.0.0")["SS4"] == ("0.0.0.0", 506)


def test_every_point_reads_plausibly_at_its_offset() -> None:
    async def body() -> None:
        sim = HeatingSimulator(CONFIG)
        await sim.start(free_endpoints(), speed=1.0, step=0.2)
        clients = {st: await client_for(sim, st) for st in STATIONS}
        try:
            for reg in REGISTERS:
                value = await read_point(clients[reg.station], reg)
                model = sim.plant.read(reg.name)
                if reg.is_bool:
                    assert value is model, reg.name
                elif reg.counter:  # truncated to the counter's resolution
                    assert float(model) - reg.scale * 1.01 <= value <= float(model), reg.name
                else:  # one plant step (0.2 s) may pass between the two reads
                    assert value == pytest.approx(float(model), abs=max(0.5, 0.02 * abs(value)))
                    if reg.low is not None and reg.high is not None:
                        assert reg.low <= value <= reg.high, reg.name
            hs1 = clients["HS1"]
            assert 70.0 < await read_point(hs1, BY_NAME["HS1.TT101"]) < 120.0
            assert -20.0 < await read_point(hs1, BY_NAME["HS1.TT100"]) < 5.0
            assert await read_point(hs1, BY_NAME["HS1.YS101"]) is True
            # a block read across a whole table works (no holes), unknown units get 0x0B
            block = await clients["SS2"].read_input_registers(0, count=24, device_id=1)
            assert not block.isError() and len(block.registers) == 24
            reply = await clients["SS2"].read_input_registers(0, count=2, device_id=9)
            assert reply.isError() and reply.exception_code == 0x0B
            reply = await clients["SS2"].read_coils(0, count=1, device_id=2)  # meters: no coils
            assert reply.isError() and reply.exception_code == 0x02
        finally:
            for client in clients.values():
                client.close()
            await sim.stop()

    run(body())


def test_valve_command_and_auto_manual_change_the_flow() -> None:
    async def body() -> None:
        sim = HeatingSimulator(CONFIG)
        await sim.start(free_endpoints(), speed=240.0, step=0.05)
        client = await client_for(sim, "SS1")
        flow, valve, auto = BY_NAME["SS1.FT201"], BY_NAME["SS1.ZC301"], BY_NAME["SS1.TIC301_AUTO"]
        try:
            start = float(await read_point(client, flow))
            assert start > 1.0
            assert not (await client.write_coil(auto.offset, False, device_id=1)).isError()
            assert sim.plant.substations["SS1"].auto is False
            assert not (await client.write_register(valve.offset, 0, device_id=1)).isError()
            assert await read_point(client, valve) == 0.0  # read back at once

            async def closed() -> bool:
                return float(await read_point(client, flow)) < 0.05

            await eventually(closed)
            await client.write_register(valve.offset, 1000, device_id=1)  # 100.0 %

            async def opened() -> bool:
                return float(await read_point(client, flow)) > start

            await eventually(opened)
            # back to AUTO: the controller takes over and the command tracks its output
            await client.write_coil(auto.offset, True, device_id=1)

            async def tracking() -> bool:
                return float(await read_point(client, valve)) < 99.0

            await eventually(tracking)
        finally:
            client.close()
            await sim.stop()

    run(body())


def test_refused_writes_change_nothing() -> None:
    async def body() -> None:
        sim = HeatingSimulator(CONFIG)
        await sim.start(free_endpoints(), speed=1.0, step=0.2)
        client = await client_for(sim, "SS2")
        try:
            sp = BY_NAME["SS2.TIC301_SP"]
            before = sim.plant.substations["SS2"].setpoint
            too_hot = [0x42C8, 0x0000]  # 100.0 °C as float32 ABCD, above the 95 °C limit
            reply = await client.write_registers(sp.offset, too_hot, device_id=1)
            assert reply.isError() and reply.exception_code == 0x03
            assert sim.plant.substations["SS2"].setpoint == before
            reply = await client.write_register(BY_NAME["SS2.SC301"].offset, 1001, device_id=1)
            assert reply.isError() and reply.exception_code == 0x03
            ok = await client.write_registers(sp.offset, [0x4270, 0x0000], device_id=1)  # 60.0
            assert not ok.isError()
            assert sim.plant.substations["SS2"].setpoint == 60.0
            assert await read_point(client, sp) == 60.0
        finally:
            client.close()
            await sim.stop()

    run(body())


def test_offline_station_refuses_then_answers_on_the_same_port() -> None:
    async def body() -> None:
        sim = HeatingSimulator(CONFIG)
        await sim.start(free_endpoints(), speed=1.0, step=0.05)
        host, port = sim.endpoints["SS4"]
        connected = await client_for(sim, "SS4")
        other = await client_for(sim, "SS3")
        reader, writer = await asyncio.open_connection(host, port)
        try:
            sim.plant.faults.add(Offline("SS4"))

            async def refused() -> bool:
                probe = AsyncModbusTcpClient(host, port=port, timeout=0.5, retries=0)
                try:
                    return not await probe.connect()
                finally:
                    probe.close()

            await eventually(refused)
            assert "SS4" not in sim.online
            # open connections are closed by the station, not left to time out
            assert await asyncio.wait_for(reader.read(), 2.0) == b""

            async def dropped() -> bool:
                return not connected.connected

            await eventually(dropped)
            with pytest.raises(ModbusException):
                await connected.read_input_registers(0, count=2, device_id=1)
            assert not (await other.read_input_registers(0, count=2, device_id=1)).isError()
            sim.plant.faults.remove(Offline("SS4"))

            async def answers() -> bool:
                probe = AsyncModbusTcpClient(host, port=port, timeout=0.5, retries=0)
                try:
                    if not await probe.connect():
                        return False
                    reply = await probe.read_input_registers(0, count=2, device_id=1)
                    return not reply.isError()
                finally:
                    probe.close()

            await eventually(answers)
            assert sim.endpoints["SS4"] == (host, port)
        finally:
            writer.close()
            connected.close()
            other.close()
            await sim.stop()

    run(body())


def test_stop_leaves_no_task_or_socket() -> None:
    process = psutil.Process()
    sockets_before = len(process.net_connections(kind="tcp"))

    async def body() -> list[int]:
        before = asyncio.all_tasks()
        sim = HeatingSimulator(CONFIG)
        endpoints = free_endpoints()
        await sim.start(endpoints, speed=10.0, step=0.05)
        client = await client_for(sim, "HS1")
        await client.read_input_registers(0, count=2, device_id=1)
        client.close()
        await sim.stop()
        await asyncio.sleep(0)
        leftover = asyncio.all_tasks() - before
        assert leftover == set(), leftover
        return [port for _, port in endpoints.values()]

    ports = run(body())
    connections = process.net_connections(kind="tcp")
    listening = [c for c in connections if c.laddr and c.laddr.port in ports]
    assert listening == []
    assert len(process.net_connections(kind="tcp")) <= sockets_before
    for port in ports:  # each port is free again
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


def test_start_fails_cleanly_on_a_busy_port() -> None:
    async def body() -> None:
        endpoints = free_endpoints()
        with socket.socket() as blocker:
            blocker.bind(endpoints["SS2"])
            blocker.listen()
            sim = HeatingSimulator(CONFIG)
            with pytest.raises(OSError, match="SS2"):
                await sim.start(endpoints)
            assert sim.online == frozenset()

    run(body())


def test_blocking_run_serves_for_a_duration_then_closes() -> None:
    endpoints = free_endpoints()
    run_blocking(endpoints, speed=10.0, config=CONFIG, duration=0.3)
    for _, port in endpoints.values():  # every listener closed again
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))

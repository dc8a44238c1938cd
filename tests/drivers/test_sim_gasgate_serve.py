"""The gas station over a real OPC UA server, read and written with a plain asyncua client."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import pytest
from asyncua import ua
from asyncua.client.client import Client
from asyncua.ua.uaerrors import UaError, UaStatusCodeError

from drivers.sim.gasgate import GasGateConfig
from drivers.sim.gasgate_faults import LinkLoss, RegulatorFailure
from drivers.sim.gasgate_points import FOLDERS, GAS_POINTS, NAMESPACE_URI
from drivers.sim.opcua_serve import GasGateSimulator
from tests.conftest import free_port

T = TypeVar("T")
CONFIG = GasGateConfig(warmup_s=600.0)


def run(coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
    """Run one async test body with a hard time limit."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
    """Wait until `check()` is true, polling; fail after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def connect(sim: GasGateSimulator) -> tuple[Client, int]:
    client = Client(sim.url, timeout=2)
    await client.connect()
    return client, await client.get_namespace_index(NAMESPACE_URI)


def test_values_types_and_writes_over_opc_ua() -> None:
    async def body() -> None:
        sim = GasGateSimulator(CONFIG)
        await sim.start(("127.0.0.1", free_port()), speed=600.0, step=0.1)
        client, idx = await connect(sim)
        try:
            assert idx == sim.namespace_index

            def node(tag: str) -> Any:
                return client.get_node(f"ns={idx};s=GS1.{tag}")

            async def read(tag: str) -> Any:
                return await node(tag).read_value()

            # the address space: folders, every point with its DataType, description, units
            station = client.get_node(f"ns={idx};s=GS1")
            names = {(await c.read_browse_name()).Name for c in await station.get_children()}
            assert names == set(FOLDERS)
            for p in GAS_POINTS:
                variant = await node(p.tag).read_data_type_as_variant_type()
                assert variant == getattr(ua.VariantType, p.dtype), p.name
            assert (await node("PT201").read_description()).Text.startswith("Outlet pressure")
            eu = await client.get_node(f"ns={idx};s=GS1.PT201.EngineeringUnits").read_value()
            assert eu.DisplayName.Text == "MPa" and eu.UnitId == 0x4D5041  # UNECE "MPA"
            rng = await client.get_node(f"ns={idx};s=GS1.PIC201_SP.EURange").read_value()
            assert (rng.Low, rng.High) == (0.2, 0.45)

            # plausible values, a source timestamp, a totaliser that counts
            p_in, p_out = await read("PT101"), await read("PT201")
            assert 0.3 < p_out < 0.42 < 3.5 < p_in
            dv = await node("FQ301").read_data_value()
            assert dv.SourceTimestamp is not None
            first = float(dv.Value.Value)

            async def counted() -> bool:
                return float(await read("FQ301")) > first + 5.0

            await eventually(counted)
            assert isinstance(await read("FQ302"), int)

            # a setpoint write moves the outlet; a refused write changes nothing
            sp = node("PIC201_SP")
            await sp.write_value(ua.DataValue(ua.Variant(0.35, ua.VariantType.Double)))
            assert sim.plant.setpoint == 0.35 and await sp.read_value() == 0.35
            with pytest.raises(UaStatusCodeError, match="BadOutOfRange"):
                await sp.write_value(ua.DataValue(ua.Variant(0.9, ua.VariantType.Double)))
            assert await sp.read_value() == 0.35 and sim.plant.setpoint == 0.35
            with pytest.raises(UaStatusCodeError, match=r"BadUserAccessDenied|BadNotWritable"):
                await node("PT201").write_value(
                    ua.DataValue(ua.Variant(0.1, ua.VariantType.Double))
                )

            async def settled() -> bool:
                return abs(float(await read("PT201")) - 0.345) < 0.01

            await eventually(settled, within=10.0)

            # closing the ESV stops the flow
            await node("XV501_CMD").write_value(
                ua.DataValue(ua.Variant(False, ua.VariantType.Boolean))
            )

            async def stopped() -> bool:
                return await read("ZSO501") is False and float(await read("FY301")) == 0.0

            await eventually(stopped)
            total, since = float(await read("FQ301")), sim.plant.time
            minute_later = since + 60.0  # let a simulated minute pass: no flow, no counting

            async def a_minute_passed() -> bool:
                return sim.plant.time >= minute_later

            await eventually(a_minute_passed, within=10.0)
            assert float(await read("FQ301")) == pytest.approx(total, abs=1.0)
            await node("XV501_CMD").write_value(
                ua.DataValue(ua.Variant(True, ua.VariantType.Boolean))
            )

            async def flowing() -> bool:
                return await read("ZSO501") is True and float(await read("FY301")) > 1000.0

            await eventually(flowing)

            # a fault shows over the wire: regulator A fails closed, run B takes over
            sim.plant.faults.add(RegulatorFailure("A", "closed"))

            async def handed_over() -> bool:
                return await read("YS221") is True and await read("YS211") is False

            await eventually(handed_over, within=10.0)
        finally:
            await client.disconnect()
            await sim.stop()

    run(body())


def test_link_loss_closes_the_server_and_removing_it_listens_on_the_same_port() -> None:
    async def body() -> None:
        before = asyncio.all_tasks()
        port = free_port()
        sim = GasGateSimulator(CONFIG)
        await sim.start(("127.0.0.1", port), speed=1.0, step=0.1)
        client, idx = await connect(sim)
        try:
            inlet = await client.get_node(f"ns={idx};s=GS1.PT101").read_value()
            assert 3.5 < inlet < 4.5
            fault = sim.plant.faults.add(LinkLoss())

            async def closed() -> bool:
                return not sim.online

            await eventually(closed)
            with pytest.raises(ConnectionRefusedError):
                await asyncio.open_connection("127.0.0.1", port)
            with pytest.raises((ConnectionError, asyncio.TimeoutError, UaError)):
                await client.get_node(f"ns={idx};s=GS1.PT101").read_value()
            sim.plant.faults.remove(fault)

            async def listening() -> bool:
                return sim.online

            await eventually(listening)
            again, idx2 = await connect(sim)
            assert sim.endpoint == ("127.0.0.1", port) and idx2 == idx
            assert 3.5 < await again.get_node(f"ns={idx};s=GS1.PT101").read_value() < 4.5
            await again.disconnect()
        finally:
            with contextlib.suppress(Exception):  # the old session died with the link
                await client.disconnect()
            await sim.stop()
        assert asyncio.all_tasks() == before, "stop leaves no task behind"
        with socket.create_server(("127.0.0.1", port)):
            pass  # the port is free again

    run(body())


def test_start_fails_cleanly_on_a_busy_port() -> None:
    async def body() -> None:
        before = asyncio.all_tasks()
        with socket.create_server(("127.0.0.1", 0)) as busy:
            port = busy.getsockname()[1]
            sim = GasGateSimulator(CONFIG)
            with pytest.raises(OSError):
                await sim.start(("127.0.0.1", port))
            assert not sim.online
        assert asyncio.all_tasks() == before, "nothing left running"

    run(body())

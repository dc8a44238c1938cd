"""Cancelling a busy Modbus driver always ends it promptly (no swallowed cancellation)."""

from __future__ import annotations

import asyncio

from tests.drivers.conftest import ModbusTestServer, point, run, running_driver, wait_for


def test_cancelling_a_busy_driver_ends_it_every_time(modbus_server: ModbusTestServer) -> None:
    # Many scan classes polling as fast as they can make a cancellation likely to race with a
    # response arriving, the case Python 3.11's asyncio.wait_for can swallow.
    points = [point(f"modbus://PLC1/1/hr/{i * 130}", scan=0.001 * (i + 1)) for i in range(8)]

    async def scenario() -> None:
        await modbus_server.start()
        try:
            for _ in range(30):
                async with running_driver(modbus_server.port, points) as r:
                    await wait_for(lambda r=r: len(r.sink.batches) >= 8, 5.0, "polling")
                    task = r.task
                    task.cancel()
                    async with asyncio.timeout(2.0):  # the fixture would wait forever
                        await asyncio.gather(task, return_exceptions=True)
        finally:
            await modbus_server.stop()

    run(scenario(), timeout=120)

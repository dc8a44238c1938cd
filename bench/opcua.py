"""OPC UA driver throughput: data-change notifications per second for 10,000 monitored items.

The server runs in its own process (`python -m tests.drivers.opcua_server`), rewriting every
value about once a second; this process runs only the driver and a counting sink, so the CPU
figure is the driver's (asyncua decoding included).
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator

import psutil

from bench.servers import free_port
from drivers.base import DeviceConfig, Point, Quality, Sample
from drivers.opcua.driver import OpcUaDriver


@contextlib.contextmanager
def server(port: int, items: int, period: float) -> Iterator[psutil.Process]:
    """The test server with `items` bulk nodes in a child process; yields that process."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.drivers.opcua_server",
            str(port),
            "--bulk",
            str(items),
            "--period",
            str(period),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield psutil.Process(proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)


async def _measure(port: int, items: int, seconds: float, srv: psutil.Process) -> None:
    samples = batches = good = 0
    first_good = asyncio.Event()

    def sink(batch: list[Sample]) -> None:
        nonlocal samples, batches, good
        samples += len(batch)
        batches += 1
        good += sum(1 for s in batch if s.quality == Quality.GOOD)
        if good >= items:
            first_good.set()

    options = {"publishing_interval": 0.5, "batch_size": 1000}
    device = DeviceConfig("B", "opcua", "127.0.0.1", port, 5.0, options)
    driver = OpcUaDriver(device, sink)
    points = [Point(OpcUaDriver.parse(f"opcua://B/ns=2;s=Bulk.{i}"), 1.0) for i in range(items)]
    t0 = time.perf_counter()
    task = asyncio.create_task(driver.run(points))
    await asyncio.wait_for(first_good.wait(), 120)
    subscribe_s = time.perf_counter() - t0
    await asyncio.sleep(2.0)  # settle
    me = psutil.Process()
    s0, b0, r0 = samples, batches, driver.stats().requests
    cpu0, srv0, wall0 = me.cpu_times(), srv.cpu_times(), time.perf_counter()
    await asyncio.sleep(seconds)
    cpu1, srv1, wall1 = me.cpu_times(), srv.cpu_times(), time.perf_counter()
    s1, b1, r1 = samples, batches, driver.stats().requests
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    wall = wall1 - wall0
    cpu = (cpu1.user - cpu0.user + cpu1.system - cpu0.system) / wall * 100
    srv_cpu = (srv1.user - srv0.user + srv1.system - srv0.system) / wall * 100
    print(f"  monitored items:          {items} (created in {subscribe_s:.1f} s, incl. connect)")
    print(f"  notifications into sink:  {(s1 - s0) / wall:,.0f}/s ({seconds:.0f} s measured)")
    per_call = (s1 - s0) / max(1, b1 - b0)
    print(f"  sink calls:               {(b1 - b0) / wall:,.1f}/s ({per_call:,.0f} per call)")
    print(f"  requests (publish, ...):  {(r1 - r0) / wall:,.1f}/s")
    print(
        f"  CPU, driver process:      {cpu:.1f} % of one core  [server's process: {srv_cpu:.1f} %]"
    )


def notifications(items: int = 10_000, seconds: float = 15.0, period: float = 1.0) -> None:
    """10,000 monitored items whose values all change every ~1 s: notifications/s and CPU %."""
    port = free_port()
    with server(port, items, period) as srv:
        asyncio.run(_measure(port, items, seconds, srv))


if __name__ == "__main__":
    notifications()

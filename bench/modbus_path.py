"""Driver -> TagStore throughput for many Modbus tags, and request coalescing ratio."""

from __future__ import annotations

import asyncio
import contextlib
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

from bench.servers import free_port
from drivers.base import DeviceConfig, Point, Sample
from drivers.modbus.codec import parse_address
from drivers.modbus.driver import ModbusDriver
from hmi.project import load_project
from hmi.runtime import ChangeBatch
from hmi.station import Station


@contextlib.contextmanager
def servers(ports: list[int], registers: int) -> Iterator[psutil.Process]:
    """Benchmark Modbus servers in a child process; yields that process."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.servers", *map(str, ports), "--registers", str(registers)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield psutil.Process(proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)


def write_project(root: Path, ports: list[int], tags_per_device: int) -> None:
    """A project with one Modbus device per port and float32 tags on contiguous registers."""
    (root / "project.toml").write_text('[project]\nname = "bench"\n')
    with (root / "devices.toml").open("w") as f:
        for i, port in enumerate(ports):
            f.write(f'[PLC{i}]\ndriver = "modbus"\nport = {port}\ntimeout = "1s"\n\n')
    with (root / "tags.toml").open("w") as f:
        for i in range(len(ports)):
            for t in range(tags_per_device):
                f.write(
                    f'[[tag]]\nname = "D{i}.T{t}"\n'
                    f'address = "modbus://PLC{i}/1/hr/{2 * t}?type=float32"\n\n'
                )


def throughput(devices: int = 10, tags_per_device: int = 1000, seconds: float = 20.0) -> None:
    """10,000 float32 tags on 10 devices at a 1 s scan: updates/s into the TagStore, CPU %."""
    ports = [free_port() for _ in range(devices)]
    me = psutil.Process()
    with servers(ports, 2 * tags_per_device) as server_proc, tempfile.TemporaryDirectory() as tmp:
        write_project(Path(tmp), ports, tags_per_device)
        t0 = time.perf_counter()
        project = load_project(tmp)
        load_s = time.perf_counter() - t0
        station = Station(project)
        changes = 0

        def count(batch: ChangeBatch) -> None:
            nonlocal changes
            changes += len(batch)

        station.runtime.subscribe(count)
        with station:
            store = station.runtime.store
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and not all(
                store.get(f"D{i}.T0").good for i in range(devices)
            ):
                time.sleep(0.05)
            time.sleep(2.0)  # let every scan class settle before measuring
            stats0 = station.runtime.link_stats()
            samples0, changes0 = station.runtime.samples_in, changes
            cpu0, srv0, wall0 = me.cpu_times(), server_proc.cpu_times(), time.perf_counter()
            time.sleep(seconds)
            cpu1, srv1, wall1 = me.cpu_times(), server_proc.cpu_times(), time.perf_counter()
            samples1, changes1 = station.runtime.samples_in, changes
            stats1 = station.runtime.link_stats()
            _, values = store.snapshot()
        wall = wall1 - wall0
        cpu = (cpu1.user - cpu0.user + cpu1.system - cpu0.system) / wall * 100
        srv = (srv1.user - srv0.user + srv1.system - srv0.system) / wall * 100
        requests = sum(stats1[d].requests - stats0[d].requests for d in stats1)
        per_scan = math.ceil(2 * tags_per_device / 124) * devices  # 62 float32 per request
        good = sum(1 for n, v in values.items() if v.good and not n.startswith("_diag"))
        p99 = max(s.rtt_p99_ms or 0.0 for s in stats1.values())
        print(
            f"  tags: {devices * tags_per_device} float32 on {devices} devices, 1 s scan, "
            f"{seconds:.0f} s measured (project loaded in {load_s:.2f} s)"
        )
        print(f"  samples into the runtime: {(samples1 - samples0) / wall:,.0f}/s")
        print(f"  TagStore updates:         {(changes1 - changes0) / wall:,.0f}/s")
        print(
            f"  requests:                 {requests / wall:,.1f}/s "
            f"(plan: {per_scan}/scan; scans kept: {requests / wall / per_scan * 100:.0f} %)"
        )
        print(f"  response time p99:        {p99:.1f} ms (worst device)")
        print(f"  good tags at the end:     {good}/{devices * tags_per_device}")
        print(
            f"  CPU, HMI process:         {cpu:.1f} % of one core "
            f"(goal < 50 %)  [servers' process: {srv:.1f} %]"
        )


async def _requests_per_scan(port: int, tags: int, max_registers: int, scans: int) -> float:
    batches = 0
    warm, done = asyncio.Event(), asyncio.Event()
    start_req = start_batches = 0

    def sink(batch: list[Sample]) -> None:
        nonlocal batches, start_req, start_batches
        batches += 1
        if batches == 2:  # the first scan includes connecting
            start_req, start_batches = driver.stats().requests, batches
            warm.set()
        elif warm.is_set() and batches == start_batches + scans:
            done.set()

    options = {"max_registers": max_registers, "max_gap": 0 if max_registers == 1 else 16}
    driver = ModbusDriver(DeviceConfig("B", "modbus", "127.0.0.1", port, 1.0, options), sink)
    points = [Point(parse_address(f"modbus://B/1/hr/{i}"), 0.05) for i in range(tags)]
    task = asyncio.create_task(driver.run(points))
    await asyncio.wait_for(done.wait(), 120)
    requests = driver.stats().requests - start_req
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return requests / scans


def coalescing(tags: int = 1000, scans: int = 20) -> None:
    """Requests per scan for a contiguous map: coalesced vs one request per tag."""
    port = free_port()
    with servers([port], tags):
        coalesced = asyncio.run(_requests_per_scan(port, tags, 125, scans))
        single = asyncio.run(_requests_per_scan(port, tags, 1, max(3, scans // 5)))
    print(f"  {tags} uint16 tags on contiguous holding registers")
    print(f"  coalesced:         {coalesced:.1f} requests/scan (bound: {math.ceil(tags / 125)})")
    print(f"  one per tag:       {single:.1f} requests/scan")
    print(f"  ratio:             {single / coalesced:.0f}x fewer requests (goal >= 50x)")

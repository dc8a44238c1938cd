"""Sustained history ingest next to a runtime that keeps scanning 10,000 Modbus tags.

A station polls 10,000 float32 tags on 10 Modbus devices at a 1 s scan (servers in a child
process) and records them to history as usual. Beside it, in the same process, a feeder
thread hands a second history writer `rate` values/s of 3,000 synthetic tags as change
batches (ten a second, prepared beforehand: a Python runtime cannot build 300,000 value
objects a second on top of everything else, and no driver here produces that many) for
`seconds`: the writer's queue, its thread and DuckDB do the work measured. Printed: values/s
written, the queue's peak fill, values dropped, and whether the runtime kept its scans; and,
for scale, how fast the recording policy and the queueing take change batches alone.
"""

from __future__ import annotations

import math
import tempfile
import threading
import time
from pathlib import Path

import psutil

from bench.modbus_path import servers, write_project
from bench.servers import free_port
from drivers.base import Quality
from hmi.history.policy import RecordingPolicy
from hmi.history.store import HistoryStore
from hmi.history.writer import HistoryWriter
from hmi.project import load_project
from hmi.station import Station
from hmi.tags import TagDef, Value

Batch = list[tuple[str, Value]]


def _batches(names: list[str], per_batch: int, count: int) -> list[Batch]:
    """`count` change batches of `per_batch` values, a second apart, all values different."""
    t0 = time.time()
    return [
        [
            (names[i % len(names)], Value(float(k * per_batch + i), Quality.GOOD, recv_ts=t0 + k))
            for i in range(per_batch)
        ]
        for k in range(count)
    ]


def _feed(writer: HistoryWriter, batches: list[Batch], stop: threading.Event) -> int:
    """Hand the batches over in turn, ten a second, until `stop`; values offered."""
    offered = k = 0
    next_at = time.monotonic()
    while not stop.is_set():
        batch = batches[k % len(batches)]
        writer.on_changes(batch)
        offered += len(batch)
        k += 1
        next_at += 0.1
        stop.wait(max(0.0, next_at - time.monotonic()))
    return offered


def _alone(names: list[str], batches: list[Batch]) -> None:
    """Values/s the recording policy admits and the writer queues, without I/O."""
    tags = {n: TagDef(n) for n in names}
    policy = RecordingPolicy(tags, 600.0)
    values = sum(len(b) for b in batches)
    t = time.perf_counter()
    admitted = [policy.admit(b, time.time()) for b in batches]
    admit = values / (time.perf_counter() - t)
    with tempfile.TemporaryDirectory(prefix="conduit-bench-ingest-") as tmp:
        store = HistoryStore(Path(tmp) / "q.duckdb")
        writer = HistoryWriter(store, tags, max_rows=values, flush_interval=3600.0)
        t = time.perf_counter()
        for b in admitted:
            writer.on_changes(b)
        queue = values / (time.perf_counter() - t)
        writer.stop()
        writer.close()
    print(f"  alone: recording policy {admit:,.0f} values/s, queueing {queue:,.0f} values/s")


def sustained(rate: int = 400_000, seconds: float = 20.0, tags: int = 3_000) -> None:
    """Values/s from the change path into DuckDB at `rate` offered, while a runtime scans."""
    devices, per_device = 10, 1000
    ports = [free_port() for _ in range(devices)]
    names = [f"Syn{i // 100}.T{i}" for i in range(tags)]
    me = psutil.Process()
    with (
        servers(ports, 2 * per_device),
        tempfile.TemporaryDirectory(prefix="conduit-bench-ingest-") as tmp,
    ):
        write_project(Path(tmp), ports, per_device)
        station = Station(load_project(tmp))
        tags_of = {n: TagDef(n) for n in names}
        history = HistoryStore(Path(tmp) / "ingest.duckdb")
        history.tag_ids(names)
        batches = _batches(names, rate // 10, 20)
        writer = HistoryWriter(history, tags_of)
        with station:
            store = station.runtime.store
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and not store.get("D9.T0").good:
                time.sleep(0.05)
            stop = threading.Event()
            offered: list[int] = []
            feeder = threading.Thread(target=lambda: offered.append(_feed(writer, batches, stop)))
            stats0 = station.runtime.link_stats()
            written0, cpu0, wall0 = writer.written, me.cpu_times(), time.perf_counter()
            feeder.start()
            peak = 0.0
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                peak = max(peak, writer.queue_fill())
                time.sleep(0.05)
            stop.set()
            feeder.join()
            wall = time.perf_counter() - wall0
            cpu1 = me.cpu_times()
            stats1 = station.runtime.link_stats()
            drained0 = time.perf_counter()
            writer.wait_written(written0 + offered[0], 60)
            drain = time.perf_counter() - drained0
            all_written = writer.written - written0
        writer.stop()
        writer.close()
    requests = sum(stats1[d].requests - stats0[d].requests for d in stats1)
    per_scan = math.ceil(2 * per_device / 124) * devices
    cpu = (cpu1.user - cpu0.user + cpu1.system - cpu0.system) / wall * 100
    total = offered[0]
    sustained = all_written / (wall + drain)
    print(f"  offered: {total / wall:,.0f} values/s ({tags:,} tags) for {wall:.1f} s")
    print(
        f"  written: {all_written:,} of {total:,} values, "
        f"the last {drain:.1f} s after the feed stopped: sustained {sustained:,.0f} values/s "
        f"(goal >= 300,000: {sustained / 300_000:.2f}x)"
    )
    print(f"  queue peak fill: {peak * 100:.0f} %, dropped: {writer.dropped:,}")
    print(
        f"  runtime beside it: {requests / wall:.1f} requests/s of {per_scan}/scan planned "
        f"(scans kept: {requests / wall / per_scan * 100:.0f} %); "
        f"CPU of the process {cpu:.0f} % of one core"
    )
    _alone(names, batches[:5])

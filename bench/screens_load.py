"""Qt-thread load: an overview of 250 live symbols and a trend of 8 pens x 10,000 points,
refreshed at 10 Hz while the core ingests 50,000 updates/s.

Values move like plant signals (a slow swing per tag with 0.5 % noise), not white noise: a
trend of pure noise fills every pixel column from top to bottom and measures the rasteriser.

The core here is a real TagStore of 10,000 tags written by a thread at 50,000 changes/s (batches
every 20 ms, as drivers hand them over); the screens see it through a client with the
RuntimeClient's reading doors. Offscreen Qt paints into its backing store as on a display.
Figures: the Qt thread's CPU time over wall time (busy), the longest stall of its event loop
(a 10 ms heartbeat's worst lateness: the longest frame), and the refresh tick's own cost.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any

import numpy as np
import numpy.typing as npt

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QSplitter

from hmi.client import ScreenDef, Trend
from hmi.tags import Quality, Reason, TagDef, Value
from hmi.tagstore import TagStore
from screens.context import AppContext
from screens.diagram import DiagramView
from screens.diagram.synthetic import grid_screen
from screens.refresh import Refresher
from screens.trends import TrendView
from tests.screens.store_client import StoreClient

TAGS = 10_000
SYMBOLS = 250
PENS = 8
POINTS = 10_000
RATE = 50_000  # updates per second into the core
SECONDS = 10.0
WARM_UP = 1.0  # seconds before frames are counted


class BenchClient(StoreClient):
    """The test suite's store client, with an empty history and no screens or commands."""

    def screens(self) -> Mapping[str, ScreenDef]:
        return {}

    def command_defs(self) -> Mapping[str, Any]:
        return {}

    def history_trend(
        self, tags: Any, start: float, end: float, buckets: int
    ) -> Future[dict[str, Trend]]:
        done: Future[dict[str, Trend]] = Future()
        done.set_result({t: Trend.empty() for t in tags})
        return done


def signal(phase: npt.NDArray[Any], t: float | npt.NDArray[Any]) -> Any:
    """Plant-like values: a slow swing per tag (minutes) around 50, with 0.5 % noise."""
    return 50.0 + 10.0 * np.sin(2 * np.pi * t / 600.0 + phase)


def _ingest(store: TagStore, names: list[str], stop: threading.Event, counted: list[int]) -> None:
    """Write RATE changes per second in 20 ms batches until `stop`."""
    rng = np.random.default_rng(1)
    phases = rng.uniform(0, 2 * np.pi, len(names))
    per_batch = RATE // 50
    period = 0.02
    next_at = time.perf_counter()
    while not stop.is_set():
        picks = rng.integers(0, len(names), per_batch)
        now = time.time()
        values = signal(phases[picks], now) + rng.normal(0.0, 0.25, per_batch)
        store.update(
            (names[i], Value(float(v), Quality.GOOD, Reason.NONE, now, now))
            for i, v in zip(picks.tolist(), values.tolist(), strict=True)
        )
        counted[0] += per_batch
        next_at += period
        delay = next_at - time.perf_counter()
        if delay > 0:
            stop.wait(delay)


def load() -> None:
    """Print the Qt thread's busy share, the longest frame and the tick cost."""
    app = QApplication.instance() or QApplication([])
    names = [f"P{i // 100:03d}.V{i % 100:02d}" for i in range(TAGS)]
    tags = {n: TagDef(n, unit="bar", decimals=2) for n in names}
    client = BenchClient(tags)
    now = time.time()
    client.store.update((n, Value(50.0, Quality.GOOD, Reason.NONE, now, now)) for n in names)
    refresher = Refresher(client, interval_ms=100)  # type: ignore[arg-type]
    context = AppContext(client, refresher)  # type: ignore[arg-type]
    screen = grid_screen(names[:SYMBOLS], columns=25)
    diagram = DiagramView(context, screen)
    trend = TrendView(context)
    pens = names[SYMBOLS : SYMBOLS + PENS]
    trend.add_pens(pens)
    times = now - 3600 + np.arange(POINTS) * (3600 / POINTS)
    rng = np.random.default_rng(2)
    for pen in pens:
        swing = signal(np.full(POINTS, rng.uniform(0, 2 * np.pi)), times)
        trend.fill(pen, times, swing + rng.normal(0.0, 0.25, POINTS))
    window = QSplitter()
    window.addWidget(diagram)
    window.addWidget(trend)
    window.resize(1800, 1000)
    window.show()
    refresher.subscribe(diagram.apply)
    refresher.subscribe(trend.apply)

    ticks: list[float] = []
    original_tick = refresher.tick

    def timed_tick() -> None:
        t0 = time.perf_counter()
        original_tick()
        ticks.append(time.perf_counter() - t0)

    refresher._timer.timeout.disconnect()
    refresher._timer.timeout.connect(timed_tick)
    gaps: list[float] = []
    last = [time.perf_counter()]

    def beat() -> None:
        t = time.perf_counter()
        if t - wall0 > WARM_UP:  # the first paint of the screens is their opening, not a frame
            gaps.append(t - last[0])
        last[0] = t

    heartbeat = QTimer()
    heartbeat.setInterval(10)
    heartbeat.timeout.connect(beat)

    stop = threading.Event()
    counted = [0]
    writer = threading.Thread(
        target=_ingest, args=(client.store, names, stop, counted), daemon=True
    )
    cpu0, wall0 = time.thread_time(), time.perf_counter()
    refresher.start()
    heartbeat.start()
    writer.start()
    QTimer.singleShot(int(SECONDS * 1000), app.quit)
    app.exec()
    cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
    stop.set()
    writer.join()
    heartbeat.stop()
    refresher.stop()
    window.close()
    busy = 100.0 * cpu / wall
    longest = max(gaps) * 1000 if gaps else 0.0
    tick_ms = sorted(t * 1000 for t in ticks)
    print(f"  ingest into the core             {counted[0] / wall:10,.0f} updates/s")
    print(f"  symbols on the overview          {len(screen.symbols):10d}")
    print(f"  trend pens x points              {PENS:6d} x {POINTS:,}")
    print(f"  refresh ticks (10 Hz)            {len(ticks):10d} in {wall:.1f} s")
    if tick_ms:
        p99 = tick_ms[min(len(tick_ms) - 1, int(len(tick_ms) * 0.99))]
        print(
            f"  tick cost median / p99           {statistics.median(tick_ms):7.1f} / {p99:.1f} ms"
        )
    print(f"  Qt thread busy                   {busy:9.1f} %   (goal < 30 %)")
    print(f"  longest frame (event-loop stall) {longest:9.1f} ms  (goal < 100 ms)")

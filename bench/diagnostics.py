"""Diagnostics: the cost of a project's data-quality checks and leak balances, each second.

10,000 checked tags (frozen, spike and range checks, all changing every second), 200
plausibility rules over them and 20 network segments of 6 meters each. One second of plant
time is one runtime batch of the 10,000 changes into `on_changes` plus one `evaluate`; with
records written to a SQLite file once a minute (a flush per simulated minute here).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from hmi.db import create_all, open_database
from hmi.diagnostics.service import DiagnosticsService
from hmi.diagnostics_config import (
    DiagnosticsSettings,
    LeakSegment,
    PlausibilityRule,
    SignalCheck,
)
from hmi.tags import Quality, TagDef, Value


def evaluations(tags: int = 10_000, seconds: int = 120) -> None:
    """Share of one core the checks of `tags` tags, 200 rules and 20 segments cost at 1 s."""
    names = [f"A{i // 500}.T{i}" for i in range(tags)]
    signals = {
        n: SignalCheck(n, frozen_after=900.0, noise=0.01, spike_rate=5.0, range=True) for n in names
    }
    rules = {
        f"R{i}": PlausibilityRule(f"R{i}", f"{names[2 * i]} >= {names[2 * i + 1]} - 100")
        for i in range(200)
    }
    segments = {
        f"N{i}": LeakSegment(
            f"N{i}",
            (names[6 * i],),
            tuple(names[6 * i + 1 : 6 * i + 6]),
            window=600.0,
            min_duration=300.0,
            pressure=(names[6 * i + 6],),
        )
        for i in range(20)
    }
    settings = DiagnosticsSettings(signals=signals, rules=rules, segments=segments)
    values: dict[str, Value] = {}
    clock = [1_790_000_000.0]
    defs = {n: TagDef(n, unit="kg/s") for n in names}
    svc = DiagnosticsService(
        settings, defs, lambda n: values.get(n, Value.initial()), clock=lambda: clock[0]
    )
    folder = Path(tempfile.mkdtemp(prefix="conduit-bench-diag-"))
    database = open_database(None, folder)
    create_all(database)
    svc.start(database, period=3600.0)
    busy = flush = 0.0
    for s in range(seconds):
        clock[0] += 1.0
        batch = []
        for i, n in enumerate(names):
            v = Value(50.0 + (i % 7) * 0.1 + (s % 2) * 0.05, Quality.GOOD, recv_ts=clock[0])
            values[n] = v
            batch.append((n, v))
        t = time.perf_counter()
        svc.on_changes(batch)
        svc.evaluate()
        busy += time.perf_counter() - t
        if s % 60 == 59:
            t = time.perf_counter()
            assert svc.flush()
            flush += time.perf_counter() - t
    svc.stop()
    database.dispose()
    per_second = busy / seconds
    print(f"  {tags:,} checked tags changing every second, 200 rules, 20 segments x 6 meters")
    print(
        f"  runtime thread per second of plant time: {per_second * 1000:.0f} ms = "
        f"{per_second * 100:.1f} % of one core"
    )
    print(
        f"  records (data quality of {tags:,} tags) written once a minute: "
        f"{flush / max(seconds // 60, 1) * 1000:.0f} ms per write, on the writer thread"
    )

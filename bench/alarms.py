"""Alarm evaluation: 50,000 alarmed tags changing every second through the alarm engine.

Each tag has one hi alarm (deadband, no delay); every second all 50,000 change (one in 100
crosses its limit either way), handed over as the runtime's change batches; then the
engine's one-second tick. Printed: evaluations/s and the share of one core per second of
plant time, and the time from a batch being handed over to its alarms being visible.
"""

from __future__ import annotations

import time

from hmi.alarm_config import AlarmDef
from hmi.alarms.engine import AlarmEngine
from hmi.alarms.model import AlarmKind
from hmi.tags import Quality, Value


def evaluations(tags: int = 50_000, seconds: int = 10) -> None:
    """Evaluations/s for `tags` alarmed tags at 1 s, and batch-to-visible latency."""
    names = [f"A{i // 1000}.T{i}" for i in range(tags)]
    defs = {
        f"{n}.hi": AlarmDef(f"{n}.hi", n, AlarmKind.HI, limit=100.0, deadband=1.0, area=n[:3])
        for n in names
    }
    values: dict[str, Value] = {}
    clock = [1_000_000.0]
    engine = AlarmEngine(
        defs, None, lambda n: values.get(n, Value.initial()), clock=lambda: clock[0]
    )
    batches = []
    for s in range(seconds):
        batch = []
        for i, n in enumerate(names):
            hot = (i + s) % 100 == 0  # one tag in a hundred above its limit this second
            batch.append((n, Value(105.0 if hot else 50.0 + s, Quality.GOOD, recv_ts=clock[0] + s)))
        batches.append(batch)
    busy = 0.0
    worst = 0.0
    for s, batch in enumerate(batches):
        clock[0] += 1.0
        version = engine.version
        t = time.perf_counter()
        engine.on_changes(batch)
        _, changed = engine.changes_since(version)  # what a client pulls next
        seen = time.perf_counter() - t
        engine.tick()
        busy += time.perf_counter() - t
        worst = max(worst, seen)
        assert s == 0 or changed, "alarms changed"
    per_second = busy / seconds
    print(f"  {tags:,} hi alarms, all tags changing every second, {seconds} s")
    print(f"  evaluations: {engine.evaluations / busy:,.0f}/s")
    print(
        f"  CPU per second of plant time: {per_second * 1000:.0f} ms = {per_second * 100:.0f} % "
        f"of one core (goal < 25 %: {0.25 / per_second:.1f}x)"
    )
    print(f"  batch handed over -> changes visible to a client: {worst * 1000:.0f} ms worst")

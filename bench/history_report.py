"""Historian report aggregates: 200 tags x 30 days of 10 s data, hourly and daily.

`report()` builds the raw rows inside DuckDB (`range()`, like `history.trend`), times the
rollup build (1 min and 1 h rollups with their hold tables), then the hourly and daily
aggregates (count, min, max, avg, twa, integral, held, delta) of all tags over the month,
best of 5, against the 1 s goal. `python -m bench.history_report` runs it.
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from hmi.history.aggregate import aggregate
from hmi.history.store import HistoryStore

T0_MS = 1_698_796_800_000  # 2023-11-01 00:00 UTC
GOAL_MS = 1_000.0


def _best_ms(fn: Callable[[], object], repeat: int = 5) -> float:
    best = math.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best * 1000


def report(tags: int = 200, days: int = 30, step_s: int = 10) -> None:
    """Hourly and daily report aggregates of `tags` tags over `days` days of `step_s` data."""
    per_tag = days * 86_400 // step_s
    rows = tags * per_tag
    names = [f"Area{i // 20}.Meter{i}" for i in range(tags)]
    with tempfile.TemporaryDirectory(prefix="conduit-bench-report-") as tmp:
        store = HistoryStore(Path(tmp) / "history.duckdb")
        ids = store.tag_ids(names)
        cur = store.cursor()
        found = cur.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'raw_live'"
        ).fetchone()
        table = "raw_live" if found and found[0] else "raw"  # the raw layout is changing
        t = time.perf_counter()
        cur.execute(
            f"INSERT INTO {table} SELECT $t0 + i * $step + t * 37, t + $first,"
            " CASE WHEN t % 2 = 0 THEN sin(i / 360.0 + t) * 50 + 60"  # analog values
            "      ELSE (i * 0.25) % 10000 END,"  # counters that reset
            " CASE WHEN (i + t) % 997 = 0 THEN 0 ELSE 2 END"
            " FROM range($n) r(i), range($tags) g(t)",
            {
                "t0": T0_MS,
                "step": step_s * 1000,
                "first": min(ids.values()),
                "n": per_tag,
                "tags": tags,
            },
        )
        cur.execute("CHECKPOINT")
        cur.close()
        print(
            f"raw: {rows:,} rows ({tags} tags x {days} days, one value per {step_s} s),"
            f" generated in {time.perf_counter() - t:.1f} s"
        )
        end_ms = T0_MS + days * 86_400_000
        t = time.perf_counter()
        store.rollup(end_ms)
        build = time.perf_counter() - t
        print(f"rollup build (1 min + 1 h, with hold tables): {build:.1f} s")
        start, end = T0_MS / 1000, end_ms / 1000
        for period, label in (("hour", "hourly"), ("day", "daily")):
            result = aggregate(store, names, start, end, period, tz="Europe/Berlin")
            n = sum(len(a) for a in result.values())
            ms = _best_ms(
                lambda p=period: aggregate(store, names, start, end, p, tz="Europe/Berlin")
            )
            print(
                f"{label} aggregates, {tags} tags x {days} days ({n:,} rows): {ms:.0f} ms"
                f" (best of 5), {ms / GOAL_MS:.2f}x the 1 s goal"
            )
        store.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    report()

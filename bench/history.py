"""Tag history: ingest rate from the writer's queue into DuckDB, file size, trend query times.

`ingest()` fills a HistoryWriter's queue through `on_changes` (as the runtime would) and times
the drain into DuckDB, then reports the file's bytes per stored value. `trend()` builds one pen
of one year of 1-second data inside DuckDB (`range()`), then times trend queries into 2,000
buckets over the year and over 8 hours, and `last_before`; then rolls the year up (1 min and
1 h rollups) and times the year-long and a week-long trend again, now served from rollups.
`python -m bench.history` runs both.
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
from pathlib import Path

from drivers.base import Quality
from hmi.history import HistoryReader, HistoryStore, HistoryWriter
from hmi.tags import TagDef, Value

T0 = 1_700_000_000.0
YEAR_S = 365 * 24 * 3600


def ingest(tags: int = 2_000, seconds: int = 1_000) -> None:
    """Values/s from the writer's queue into DuckDB, and bytes per stored value."""
    total = tags * seconds
    names = [f"Area{i // 100}.Tag{i}" for i in range(tags)]
    defs = {n: TagDef(n) for n in names}
    with tempfile.TemporaryDirectory(prefix="conduit-bench-history-") as tmp:
        path = Path(tmp) / "history.duckdb"
        store = HistoryStore(path)
        writer = HistoryWriter(
            store, defs, max_rows=total, flush_interval=3600.0, flush_rows=total + 1
        )
        t = time.perf_counter()
        for s in range(seconds):
            ts = T0 + s
            writer.on_changes(
                [
                    (n, Value(math.sin(s / 60 + i) * 100 + i, Quality.GOOD, recv_ts=ts))
                    for i, n in enumerate(names)
                ]
            )
        queued = time.perf_counter() - t
        t = time.perf_counter()
        written = writer.flush()
        drained = time.perf_counter() - t
        writer.stop()
        store.close()
        size = path.stat().st_size
        print(f"values: {written:,} ({tags:,} tags x {seconds:,} s), dropped {writer.dropped}")
        print(f"on_changes (build Values + queue): {total / queued:,.0f} values/s")
        print(f"queue -> DuckDB, one batch: {written / drained:,.0f} values/s ({drained:.2f} s)")
        print(f"file: {size / 1e6:.1f} MB, {size / written:.2f} bytes per stored value")


def _timed_ms(fn: object, repeat: int = 5) -> float:
    """Best of `repeat` runs of `fn()`, in ms."""
    best = math.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t)
    return best * 1000


def trend(days: int = 365) -> None:
    """One pen of 1-second data over `days`: trend into 2,000 buckets (year, 8 h), last_before."""
    rows = days * 24 * 3600
    with tempfile.TemporaryDirectory(prefix="conduit-bench-history-") as tmp:
        path = Path(tmp) / "history.duckdb"
        store = HistoryStore(path)
        (tid,) = store.tag_ids(["Pen"]).values()
        cur = store.cursor()
        t = time.perf_counter()
        cur.execute(
            "INSERT INTO raw SELECT $t0 + i * 1000, $tid, sin(i / 3600.0) * 50 + random(),"
            " CASE WHEN i % 10007 = 0 THEN 0 ELSE 2 END FROM range($n) r(i)",
            {"t0": int(T0 * 1000), "tid": tid, "n": rows},
        )
        cur.execute("CHECKPOINT")
        cur.close()
        print(f"generated {rows:,} rows in {time.perf_counter() - t:.1f} s")
        r = HistoryReader(store)
        end = T0 + rows
        year = _timed_ms(lambda: r.trend(["Pen"], T0, end, 2_000))
        mid = T0 + rows / 2
        shift = _timed_ms(lambda: r.trend(["Pen"], mid, mid + 8 * 3600, 2_000))
        last = _timed_ms(lambda: r.last_before("Pen", mid))
        n = len(r.trend(["Pen"], T0, end, 2_000)["Pen"])
        print(f"trend, {days} days into 2,000 buckets ({n} returned): {year:.0f} ms")
        print(f"trend, 8 h into 2,000 buckets: {shift:.1f} ms")
        print(f"last_before (middle of the range): {last:.1f} ms")
        t = time.perf_counter()
        store.rollup(int(T0 * 1000) + rows * 1000 + 3_600_000)
        print(f"rollup (1 min + 1 h) of all {rows:,} rows: {time.perf_counter() - t:.1f} s")
        rolled = _timed_ms(lambda: r.trend(["Pen"], T0, end, 2_000))
        n = len(r.trend(["Pen"], T0, end, 2_000)["Pen"])
        print(f"trend from rollups, {days} days into 2,000 buckets ({n} returned): {rolled:.0f} ms")
        shift = _timed_ms(lambda: r.trend(["Pen"], mid, mid + 8 * 3600, 2_000))
        print(f"trend, 8 h into 2,000 buckets after rollup (raw, 14 s buckets): {shift:.1f} ms")
        day = _timed_ms(lambda: r.trend(["Pen"], mid, mid + 7 * 86400, 2_000))
        print(f"trend from rollups, 7 days into 2,000 buckets: {day:.1f} ms")
        t = time.perf_counter()
        later = store.rollup(int(T0 * 1000) + rows * 1000 + 3_600_000)
        print(f"rollup again, nothing new ({later}): {(time.perf_counter() - t) * 1000:.1f} ms")
        store.close()
        print(f"file: {path.stat().st_size / rows:.2f} bytes per stored value")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    print("== history ingest ==", flush=True)
    ingest()
    print("== history trend ==", flush=True)
    trend()

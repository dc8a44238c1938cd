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

import numpy as np

from drivers.base import Quality
from hmi.history.query import HistoryReader
from hmi.history.store import HistoryStore
from hmi.history.writer import HistoryWriter
from hmi.tags import TagDef, Value

T0 = 1_700_000_000.0
YEAR_S = 365 * 24 * 3600


def _plant_value(kind: int, s: int, i: int) -> float:
    """A plant-like value: register x 0.1 temperature, x 0.01 pressure, float32 flow, counter."""
    if kind == 0:
        return round(600 + 50 * math.sin(s / 300 + i) + (s * 7 + i) % 5) * 0.1
    if kind == 1:
        return round(400 + 20 * math.sin(s / 500 + i) + (s * 3 + i) % 3) * 0.01
    if kind == 2:
        return float(str(np.float32(60 + 5 * math.sin(s / 300 + i))))  # as the drivers deliver
    return round(1e6 + i + s * 0.25 + (s % 3) * 0.1, 1)


def ingest(tags: int = 2_000, seconds: int = 1_000) -> None:
    """Values/s from the writer's queue into DuckDB; bytes per value, live and compacted."""
    total = tags * seconds
    names = [f"Area{i // 100}.Tag{i}" for i in range(tags)]
    defs = {n: TagDef(n) for n in names}
    with tempfile.TemporaryDirectory(prefix="conduit-bench-history-") as tmp:
        path = Path(tmp) / "history.duckdb"
        store = HistoryStore(path)
        writer = HistoryWriter(
            store, defs, max_rows=total, flush_interval=3600.0, flush_rows=total + 1
        )
        batches = [
            [
                (n, Value(_plant_value(i % 4, s, i), Quality.GOOD, recv_ts=T0 + s))
                for i, n in enumerate(names)
            ]
            for s in range(seconds)
        ]
        t = time.perf_counter()
        for batch in batches:
            writer.on_changes(batch)
        queued = time.perf_counter() - t
        t = time.perf_counter()
        written = writer.flush()
        drained = time.perf_counter() - t
        writer.stop()
        store.close()
        print(f"values: {written:,} ({tags:,} tags x {seconds:,} s), dropped {writer.dropped}")
        print(f"on_changes (queue {tags:,}-value batches): {total / queued:,.0f} values/s")
        print(f"queue -> DuckDB, one batch: {written / drained:,.0f} values/s ({drained:.2f} s)")


def storage(tags: int = 500, hours: int = 24) -> None:
    """Bytes per stored value of a day of 1 s plant-like data, live (time order) and compacted.

    Generated inside DuckDB into the live table in time order: a quarter each of temperatures
    (register x 0.1), pressures (x 0.01), float32 flows (as the drivers deliver them: the
    shortest decimal) and energy counters (0.1 kWh).
    """
    seconds = hours * 3600
    total = tags * seconds
    with tempfile.TemporaryDirectory(prefix="conduit-bench-history-") as tmp:
        store = HistoryStore(Path(tmp) / "history.duckdb")
        ids = sorted(store.tag_ids(f"Tag{i}" for i in range(tags)).values())
        cur = store.cursor()
        t = time.perf_counter()
        cur.execute(
            "INSERT INTO raw_live SELECT $t0 + i * 1000, p, CASE p % 4"
            " WHEN 0 THEN round(600 + 50 * sin(i / 300 + p) + random() * 5) * 0.1"
            " WHEN 1 THEN round(400 + 20 * sin(i / 500 + p) + random() * 3) * 0.01"
            " WHEN 2 THEN CAST(CAST(CAST(60 + 5 * sin(i / 300 + p) + random() * 0.1 AS FLOAT)"
            "   AS VARCHAR) AS DOUBLE)"
            " ELSE round(1e6 + p + i * 0.25 + random() * 0.3, 1) END, 2"
            " FROM range($n) r(i), (SELECT unnest($ids) AS p) ORDER BY i, p",
            {"t0": int(T0 * 1000), "ids": ids, "n": seconds},
        ).fetchall()
        cur.close()
        live = _used_bytes(store)
        print(
            f"generated {total:,} values ({tags} tags x {hours} h of 1 s data) "
            f"in {time.perf_counter() - t:.1f} s"
        )
        print(f"live table (time order, all tags interleaved): {live / total:.2f} bytes per value")
        t = time.perf_counter()
        store.compact(int(T0 * 1000) + seconds * 1000 + 86_400_000)
        compacted = time.perf_counter() - t
        archived = _used_bytes(store)
        store.close()
        per = archived / total
        print(
            f"compacted (sorted by tag and time, {compacted:.1f} s, {total / compacted:,.0f} "
            f"values/s): {per:.2f} bytes per value (goal <= 4: {4 / per:.1f}x)"
        )


def _used_bytes(store: HistoryStore) -> int:
    """Bytes of the file's used blocks after a checkpoint (free blocks are reused, not counted)."""
    cur = store.cursor()
    try:
        cur.execute("CHECKPOINT")
        found = cur.execute(
            "SELECT block_size * used_blocks FROM pragma_database_size()"
        ).fetchone()
    finally:
        cur.close()
    return int(found[0]) if found else 0


def _timed_ms(fn: object, repeat: int = 5) -> float:
    """Best of `repeat` runs of `fn()`, in ms."""
    best = math.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t)
    return best * 1000


def trend(days: int = 365, pens: int = 8) -> None:
    """`pens` pens of 1-second data over `days`, compacted: trends into 2,000 buckets, last_before.

    The rows are generated inside DuckDB into the live table in time order (all pens
    interleaved, as the writer appends them) and then compacted into the archive once.
    Values are temperatures with 0.1 resolution (as a scaled register gives them) and one bad
    sample in 10,007.
    """
    rows = days * 24 * 3600
    with tempfile.TemporaryDirectory(prefix="conduit-bench-history-") as tmp:
        path = Path(tmp) / "history.duckdb"
        store = HistoryStore(path)
        names = [f"Pen{p}" for p in range(pens)]
        ids = store.tag_ids(names)
        cur = store.cursor()
        t = time.perf_counter()
        cur.execute(
            "INSERT INTO raw_live SELECT $t0 + i * 1000, p,"
            " round(600 + 300 * sin(i / 3600.0 + p) + random() * 20) * 0.1,"
            " CASE WHEN (i + p) % 10007 = 0 THEN 0 ELSE 2 END"
            " FROM range($n) r(i), (SELECT unnest($ids) AS p) ORDER BY i, p",
            {"t0": int(T0 * 1000), "ids": sorted(ids.values()), "n": rows},
        )
        cur.execute("CHECKPOINT")
        cur.close()
        total = rows * pens
        print(
            f"generated {total:,} rows ({pens} pens x {days} days of 1 s data) "
            f"in {time.perf_counter() - t:.1f} s"
        )
        t = time.perf_counter()
        store.compact(int(T0 * 1000) + rows * 1000 + 86_400_000)
        print(
            f"compaction into the sorted archive: {time.perf_counter() - t:.1f} s, "
            f"{_used_bytes(store) / total:.2f} bytes per stored value"
        )
        r = HistoryReader(store)
        end, mid = T0 + rows, T0 + rows / 2
        pen = names[:1]

        def show(label: str, ms: float, goal: float | None = None) -> None:
            tail = f" (goal <= {goal:.0f} ms: {goal / ms:.1f}x)" if goal else ""
            print(f"{label}: {ms:.1f} ms{tail}")

        year = _timed_ms(lambda: r.trend(pen, T0, end, 2_000, use_rollups=False))
        show(f"trend, 1 pen, {days} days into 2,000 buckets, raw rows only (no rollups yet)", year)
        year8 = _timed_ms(lambda: r.trend(names, T0, end, 2_000, use_rollups=False), 3)
        show(f"trend, {pens} pens, {days} days into 2,000 buckets, raw rows only", year8)
        show(
            "trend, 1 pen, 8 h into 2,000 buckets",
            _timed_ms(lambda: r.trend(pen, mid, mid + 8 * 3600, 2_000)),
            20,
        )
        show(
            f"trend, {pens} pens, 8 h into 2,000 buckets",
            _timed_ms(lambda: r.trend(names, mid, mid + 8 * 3600, 2_000)),
        )
        show("last_before (middle of the range)", _timed_ms(lambda: r.last_before(pen[0], mid)))
        t = time.perf_counter()
        store.rollup(int(T0 * 1000) + rows * 1000 + 3_600_000)
        print(f"rollup (1 min + 1 h) of all {total:,} rows: {time.perf_counter() - t:.1f} s")
        show(
            f"trend from rollups, 1 pen, {days} days into 2,000 buckets",
            _timed_ms(lambda: r.trend(pen, T0, end, 2_000)),
            100,
        )
        show(
            f"trend from rollups, {pens} pens, {days} days into 2,000 buckets",
            _timed_ms(lambda: r.trend(names, T0, end, 2_000)),
            400,
        )
        show(
            "trend from rollups, 1 pen, 7 days into 2,000 buckets",
            _timed_ms(lambda: r.trend(pen, mid, mid + 7 * 86400, 2_000)),
        )
        t = time.perf_counter()
        later = store.rollup(int(T0 * 1000) + rows * 1000 + 3_600_000)
        print(f"rollup again, nothing new ({later}): {(time.perf_counter() - t) * 1000:.1f} ms")
        store.close()
        print(f"file: {path.stat().st_size / total:.2f} bytes per stored value (rollups included)")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    print("== history ingest ==", flush=True)
    ingest()
    print("== history trend ==", flush=True)
    trend()

"""History queries: raw samples, bucketed trends (min/max/first/last/avg) and the last value.

Times in and out are epoch seconds (floats, millisecond precision). A trend never returns more
than `buckets` buckets per tag; values of bad quality (or without a value) are left out of
every aggregate, so the max of a bucket is the max of the good raw values in it and a chart
drawn from min/max shows every spike at any zoom.

When buckets are at least a minute wide and rollups exist, `trend` reads `rollup_1m` (or
`rollup_1h` for buckets of an hour or more) for the whole rollup buckets of the range they
cover and raw rows for the rest. Its buckets are then aligned to the rollup grid (the width a
multiple of the rollup step, the first bucket clipped at `start`), so each rollup bucket falls
in exactly one trend bucket and min/max/first/last are those of the raw values, avg is
sum/count. Below the retention floor, where raw rows and 1-minute rollups are gone, buckets
are whole hours from `rollup_1h` however many were asked for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from drivers.base import Quality
from hmi.history.rollup import HOUR_MS, MINUTE_MS, floor_to
from hmi.history.store import HistoryStore

__all__ = ["HistoryReader", "Sample", "Trend"]

Sample = tuple[float, float | None, Quality]
FloatArray = npt.NDArray[np.float64]


def to_ms(ts: float) -> int:
    """Epoch seconds to integer epoch milliseconds (rounded)."""
    return round(ts * 1000)


@dataclass(frozen=True, slots=True)
class Trend:
    """One pen's buckets: start time (epoch s), min, max, first, last, avg; equal lengths."""

    bucket_start: FloatArray
    min: FloatArray
    max: FloatArray
    first: FloatArray
    last: FloatArray
    avg: FloatArray

    def __len__(self) -> int:
        return len(self.bucket_start)

    @classmethod
    def empty(cls) -> Trend:
        """A trend without buckets."""
        e = np.empty(0, dtype=np.float64)
        return cls(e, e, e, e, e, e)


def _sample(ts: int, value: float | None, quality: int) -> Sample:
    return (ts / 1000.0, None if value is None else float(value), Quality(quality))


class HistoryReader:
    """Read-only queries on a HistoryStore; safe to use from any one thread at a time."""

    def __init__(self, store: HistoryStore) -> None:
        self.store = store

    def raw(self, tag: str, start: float, end: float, limit: int | None = None) -> list[Sample]:
        """Stored samples of `tag` with start <= ts < end, in time order (the first `limit`)."""
        tag_id = self.store.known_id(tag)
        if tag_id is None:
            return []
        cur = self.store.cursor()
        try:
            rows = cur.execute(
                "SELECT ts, value, quality FROM raw WHERE tag_id = ? AND ts >= ? AND ts < ? "
                "ORDER BY ts LIMIT ?",
                [tag_id, to_ms(start), to_ms(end), limit],
            ).fetchall()
        finally:
            cur.close()
        return [_sample(*row) for row in rows]

    def last_before(self, tag: str, ts: float) -> Sample | None:
        """The last stored sample of `tag` strictly before `ts` (any quality), or None.

        Looks back in growing windows (an hour, a day, a month, everything) so the usual case,
        a sample within the heartbeat, reads one hour of rows instead of the whole history.
        """
        tag_id = self.store.known_id(tag)
        if tag_id is None:
            return None
        end = to_ms(ts)
        cur = self.store.cursor()
        try:
            for back in (HOUR_MS, 24 * HOUR_MS, 32 * 24 * HOUR_MS, None):
                row = cur.execute(
                    "SELECT ts, value, quality FROM raw WHERE tag_id = $tag AND ts < $end"
                    " AND ts >= $start ORDER BY ts DESC LIMIT 1",
                    {"tag": tag_id, "end": end, "start": -(2**62) if back is None else end - back},
                ).fetchone()
                if row is not None:
                    return _sample(*row)
        finally:
            cur.close()
        return None

    def trend(
        self,
        tags: Sequence[str],
        start: float,
        end: float,
        buckets: int,
        *,
        use_rollups: bool = True,
    ) -> dict[str, Trend]:
        """Per tag, at most `buckets` equal-width buckets over start <= ts < end (good values).

        `use_rollups=False` always scans raw rows (the reference the rollups must match).
        """
        if buckets < 1:
            raise ValueError("buckets must be >= 1")
        out = {tag: Trend.empty() for tag in tags}
        ids = {tid: tag for tag in tags if (tid := self.store.known_id(tag)) is not None}
        start_ms, end_ms = to_ms(start), to_ms(end)
        if not ids or end_ms <= start_ms:
            return out
        width = max(1, math.ceil((end_ms - start_ms) / buckets))
        covered = self.store.rollup_until() if use_rollups else None
        floor = self.store.raw_floor()
        gone = floor is not None and start_ms < floor  # raw and 1 min rollups deleted there
        if covered is not None and (width >= MINUTE_MS or gone):
            step = HOUR_MS if width >= HOUR_MS or gone else MINUTE_MS
            cov_lo = -(-start_ms // step) * step
            cov_hi = min(floor_to(end_ms, step), covered)
            if cov_hi > cov_lo:
                return self._trend_rollup(
                    out,
                    ids,
                    span=(start_ms, end_ms),
                    cover=(cov_lo, cov_hi),
                    buckets=buckets,
                    step=step,
                )
        cur = self.store.cursor()
        try:
            result = cur.execute(
                "SELECT tag_id, (ts - $start) // $width AS k, min(value) AS lo, max(value) AS hi,"
                " arg_min(value, ts) AS first, arg_max(value, ts) AS last, avg(value) AS mean"
                " FROM raw WHERE list_contains($ids, tag_id) AND ts >= $start AND ts < $end"
                " AND quality > 0 AND value IS NOT NULL"
                " GROUP BY tag_id, k ORDER BY tag_id, k",
                {"start": start_ms, "end": end_ms, "width": width, "ids": list(ids)},
            ).fetchnumpy()
        finally:
            cur.close()
        tag_col = np.asarray(result["tag_id"])
        for tid, tag in ids.items():
            sel = tag_col == tid
            k = np.asarray(result["k"][sel], dtype=np.float64)
            out[tag] = Trend(
                bucket_start=(start_ms + k * width) / 1000.0,
                min=np.asarray(result["lo"][sel], dtype=np.float64),
                max=np.asarray(result["hi"][sel], dtype=np.float64),
                first=np.asarray(result["first"][sel], dtype=np.float64),
                last=np.asarray(result["last"][sel], dtype=np.float64),
                avg=np.asarray(result["mean"][sel], dtype=np.float64),
            )
        return out

    def _trend_rollup(
        self,
        out: dict[str, Trend],
        ids: dict[int, str],
        *,
        span: tuple[int, int],
        cover: tuple[int, int],
        buckets: int,
        step: int,
    ) -> dict[str, Trend]:
        """`trend` from the rollup table of `step` over `cover` and raw for the rest of `span`."""
        start_ms, end_ms = span
        cov_lo, cov_hi = cover
        origin = floor_to(start_ms, step)
        width = math.ceil((end_ms - origin) / buckets / step) * step
        table = "rollup_1h" if step == HOUR_MS else "rollup_1m"
        raw_part = (
            "SELECT tag_id, ts AS t, value AS lo, value AS hi, value AS fi, value AS la,"
            " value AS s, 1 AS c FROM raw WHERE list_contains($ids, tag_id)"
            " AND quality > 0 AND value IS NOT NULL AND ts >= {} AND ts < {}"
        )
        sql = (
            "WITH pieces AS ("
            f"{raw_part.format('$start', '$cov_lo')} UNION ALL "
            f"{raw_part.format('$cov_hi', '$end')} UNION ALL "
            "SELECT tag_id, ts, min, max, first, last, sum, count"
            f" FROM {table} WHERE list_contains($ids, tag_id)"
            " AND ts >= $cov_lo AND ts < $cov_hi AND count > 0)"
            " SELECT tag_id, (t - $origin) // $width AS k, min(lo) AS lo, max(hi) AS hi,"
            " arg_min(fi, t) AS first, arg_max(la, t) AS last, sum(s) / sum(c) AS mean"
            " FROM pieces GROUP BY tag_id, k ORDER BY tag_id, k"
        )
        cur = self.store.cursor()
        try:
            result = cur.execute(
                sql,
                {
                    "ids": list(ids),
                    "start": start_ms,
                    "end": end_ms,
                    "cov_lo": cov_lo,
                    "cov_hi": cov_hi,
                    "origin": origin,
                    "width": width,
                },
            ).fetchnumpy()
        finally:
            cur.close()
        tag_col = np.asarray(result["tag_id"])
        for tid, tag in ids.items():
            sel = tag_col == tid
            k = np.asarray(result["k"][sel], dtype=np.float64)
            out[tag] = Trend(
                bucket_start=np.maximum(origin + k * width, start_ms) / 1000.0,
                min=np.asarray(result["lo"][sel], dtype=np.float64),
                max=np.asarray(result["hi"][sel], dtype=np.float64),
                first=np.asarray(result["first"][sel], dtype=np.float64),
                last=np.asarray(result["last"][sel], dtype=np.float64),
                avg=np.asarray(result["mean"][sel], dtype=np.float64),
            )
        return out

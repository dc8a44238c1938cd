"""A real DuckDB history file with known signals, written before a station (or a reader) opens it.

One sample per minute for each tag over `days` days up to `end`: a daily sine for the first tag,
a ramp for the second, a sawtooth for the others; the first tag is bad (no value) for one hour
three days back. Rollups are built, as the station's maintenance would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from hmi.history.store import HistoryStore

MINUTE = 60.0
BAD_AGO = 3 * 86400.0  # the bad hour of the first tag starts this long before `end`


@dataclass(frozen=True)
class Series:
    """What was written for one tag: epoch seconds, values (NaN: bad) and qualities."""

    ts: npt.NDArray[np.float64]
    values: npt.NDArray[np.float64]
    quality: npt.NDArray[np.uint8]

    def good_between(self, lo: float, hi: float) -> npt.NDArray[np.float64]:
        """The good values with lo <= ts < hi."""
        sel = (self.ts >= lo) & (self.ts < hi) & (self.quality == 2)
        return self.values[sel]


def signal(index: int, ts: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The known signal of the `index`-th tag at times `ts`."""
    if index == 0:
        return np.round(80.0 + 10.0 * np.sin(2 * np.pi * ts / 86400.0), 2)
    if index == 1:
        return np.round(50.0 + ((ts // MINUTE) % 600) / 10.0, 2)
    return np.round(10.0 * index + (ts // MINUTE) % 37, 2)


def write_history(
    path: Path, tags: Sequence[str], end: float, days: float = 8.0
) -> dict[str, Series]:
    """Write `days` of per-minute samples of `tags` ending before `end`; what was written."""
    end_min = np.floor(end / MINUTE) * MINUTE
    ts = np.arange(end_min - days * 86400.0, end_min, MINUTE)
    path.parent.mkdir(parents=True, exist_ok=True)
    store = HistoryStore(path)
    out: dict[str, Series] = {}
    try:
        ids = store.tag_ids(tags)
        for index, tag in enumerate(tags):
            values = signal(index, ts)
            quality = np.full(len(ts), 2, dtype=np.uint8)
            if index == 0:
                bad = (ts >= end - BAD_AGO) & (ts < end - BAD_AGO + 3600.0)
                values[bad] = np.nan
                quality[bad] = 0
            store.append_arrays(
                np.round(ts * 1000).astype(np.int64),
                np.full(len(ts), ids[tag], dtype=np.uint32),
                values,
                quality,
            )
            out[tag] = Series(ts, values, quality)
        store.rollup(int(end * 1000))
    finally:
        store.close()
    return out

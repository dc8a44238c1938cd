"""History questions asked by name with JSON arguments, answered with JSON-ready results.

The same functions answer in the running station (through `hmi.control`) and in a CLI process
that opened the history file itself because no station was running, so both give the same
output. Times are epoch seconds; NaN becomes None.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hmi.history.export import export_history
from hmi.history.query import HistoryReader
from hmi.history.store import HistoryStore

__all__ = ["ANSWERS", "export_answer", "raw_answer", "trend_answer"]

TREND_FIELDS = ("bucket_start", "min", "max", "first", "last", "avg")


def _tags(args: Mapping[str, Any]) -> list[str]:
    tags = args.get("tags")
    if not isinstance(tags, list) or not tags or not all(isinstance(t, str) for t in tags):
        raise ValueError("tags: expected a list of tag names")
    return tags


def _span(args: Mapping[str, Any]) -> tuple[float, float]:
    try:
        start, end = float(args["start"]), float(args["end"])
    except (KeyError, TypeError, ValueError):
        raise ValueError("start and end: expected epoch seconds") from None
    if not end > start:
        raise ValueError("end must be after start")
    return start, end


def _clean(values: Sequence[float] | np.ndarray) -> list[float | None]:
    return [None if math.isnan(v) else float(v) for v in values]


def trend_answer(store: HistoryStore, args: Mapping[str, Any]) -> dict[str, Any]:
    """{tag: {bucket_start: [...], min: [...], ...}} for tags, start, end, buckets."""
    start, end = _span(args)
    buckets = int(args.get("buckets", 100))
    if not 1 <= buckets <= 100_000:
        raise ValueError("buckets: expected 1 to 100000")
    trends = HistoryReader(store).trend(_tags(args), start, end, buckets)
    return {
        tag: {name: _clean(getattr(trend, name)) for name in TREND_FIELDS}
        for tag, trend in trends.items()
    }


def raw_answer(store: HistoryStore, args: Mapping[str, Any]) -> dict[str, Any]:
    """{tag: [[ts, value, quality name], ...]} for tags, start, end (at most `limit` rows each)."""
    start, end = _span(args)
    limit = int(args.get("limit", 100_000))
    reader = HistoryReader(store)
    out: dict[str, Any] = {}
    for tag in _tags(args):
        rows = reader.raw(tag, start, end, limit)
        out[tag] = [[ts, value, quality.name.lower()] for ts, value, quality in rows]
    return out


def export_answer(store: HistoryStore, args: Mapping[str, Any]) -> dict[str, Any]:
    """Write tags' history to the file `dest` (parquet, csv or xlsx): {rows, dest}."""
    start, end = _span(args)
    dest = Path(str(args.get("dest", "")))
    if not dest.is_absolute():
        raise ValueError("dest: expected an absolute file path")
    buckets = args.get("buckets")
    rows = export_history(
        store,
        _tags(args),
        start,
        end,
        dest,
        fmt=args.get("format"),
        buckets=None if buckets is None else int(buckets),
    )
    return {"rows": rows, "dest": str(dest)}


ANSWERS: dict[str, Callable[[HistoryStore, Mapping[str, Any]], Any]] = {
    "history.trend": trend_answer,
    "history.raw": raw_answer,
    "history.export": export_answer,
}

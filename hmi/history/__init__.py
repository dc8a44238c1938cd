"""Tag history: a DuckDB store of raw samples, a batching writer and trend queries.

`HistoryWriter` subscribes to the runtime's change batches and appends them to a
`HistoryStore` in batches from its own thread; `HistoryReader` answers raw, trend
(min/max/first/last/avg per bucket) and last-value queries; `aggregate` answers report
figures per calendar or fixed period (count, min, max, avg, time-weighted average, integral,
held time, counter increase).
"""

from __future__ import annotations

from hmi.history.aggregate import HOLD_MAX, Aggregates, aggregate, period_bounds
from hmi.history.query import HistoryReader, Sample, Trend
from hmi.history.store import HistoryStore
from hmi.history.writer import HistoryWriter

__all__ = [
    "HOLD_MAX",
    "Aggregates",
    "HistoryReader",
    "HistoryStore",
    "HistoryWriter",
    "Sample",
    "Trend",
    "aggregate",
    "period_bounds",
]

"""Tag history: a DuckDB store of raw samples, a batching writer and trend queries.

`HistoryWriter` subscribes to the runtime's change batches and appends them to a
`HistoryStore` in batches from its own thread; `HistoryReader` answers raw, trend
(min/max/first/last/avg per bucket) and last-value queries.
"""

from __future__ import annotations

from hmi.history.query import HistoryReader, Sample, Trend
from hmi.history.store import HistoryStore
from hmi.history.writer import HistoryWriter

__all__ = ["HistoryReader", "HistoryStore", "HistoryWriter", "Sample", "Trend"]

"""Tag history: a DuckDB store of raw samples, a batching writer and trend queries.

`HistoryWriter` subscribes to the runtime's change batches and appends them to a
`HistoryStore` in batches from its own thread; `HistoryReader` answers raw, trend
(min/max/first/last/avg per bucket) and last-value queries; `aggregate` answers report
figures per calendar or fixed period (count, min, max, avg, time-weighted average, integral,
held time, counter increase).
"""

"""Rollups of the raw history: 1-minute and 1-hour aggregates kept in step with `raw`.

`rollup_1m` and `rollup_1h` hold, per bucket start (epoch ms) and tag, the min, max, first,
last, sum and count of the good and uncertain values (quality > 0 with a value) and the count
of the bad rows. Buckets holding only bad rows are kept (count 0) so the bad count is complete.

A meta table keeps three marks (epoch ms):

- `rollup_until`: both rollups are complete for every hour below it (it is hour aligned);
- `dirty_from`: the earliest ts appended below `rollup_until` since the last rollup (late data);
  `HistoryStore` lowers it in the same transaction as the append;
- `raw_floor`: raw rows below it were deleted by retention, so those buckets are never
  recomputed (late rows older than it are kept in `raw` but not added to the rollups).

`roll_up` recomputes whole hours from `min(rollup_until, hour of dirty_from)` up to the hour of
`until_ms`: it deletes those buckets and aggregates them again, so running it twice, or again
after more data arrived, gives the same tables as one run over everything. Rows inserted into
`raw` directly with SQL (not through `HistoryStore.append*`) are not tracked as late data.
"""

from __future__ import annotations

import duckdb

__all__ = ["HOUR_MS", "MINUTE_MS", "ROLLUP_DDL", "floor_to", "get_mark", "roll_up", "set_mark"]

MINUTE_MS = 60_000
HOUR_MS = 3_600_000

_COLUMNS = (
    "ts BIGINT NOT NULL, tag_id UINTEGER NOT NULL, min DOUBLE, max DOUBLE, first DOUBLE,"
    " last DOUBLE, sum DOUBLE, count UBIGINT NOT NULL, bad UBIGINT NOT NULL"
)

ROLLUP_DDL = (
    "CREATE TABLE IF NOT EXISTS history_meta (key VARCHAR PRIMARY KEY, value BIGINT)",
    f"CREATE TABLE IF NOT EXISTS rollup_1m ({_COLUMNS})",
    f"CREATE TABLE IF NOT EXISTS rollup_1h ({_COLUMNS})",
)

_GOOD = "quality > 0 AND value IS NOT NULL"

_ROLL_1M = (
    f"INSERT INTO rollup_1m SELECT ts - ((ts % {MINUTE_MS}) + {MINUTE_MS}) % {MINUTE_MS} AS b,"
    f" tag_id, min(value) FILTER (WHERE {_GOOD}), max(value) FILTER (WHERE {_GOOD}),"
    f" arg_min(value, ts) FILTER (WHERE {_GOOD}), arg_max(value, ts) FILTER (WHERE {_GOOD}),"
    f" sum(value) FILTER (WHERE {_GOOD}), count(*) FILTER (WHERE {_GOOD}),"
    f" count(*) FILTER (WHERE NOT ({_GOOD}))"
    " FROM raw WHERE ts >= $lo AND ts < $hi GROUP BY b, tag_id"
)

_ROLL_1H = (
    f"INSERT INTO rollup_1h SELECT ts - ts % {HOUR_MS} AS b, tag_id, min(min), max(max),"
    " arg_min(first, ts) FILTER (WHERE count > 0), arg_max(last, ts) FILTER (WHERE count > 0),"
    " sum(sum), sum(count), sum(bad)"
    " FROM rollup_1m WHERE ts >= $lo AND ts < $hi GROUP BY b, tag_id"
)


def floor_to(ts_ms: int, step: int) -> int:
    """`ts_ms` rounded down to a multiple of `step` (floor, also for negative times)."""
    return ts_ms - ts_ms % step


def get_mark(conn: duckdb.DuckDBPyConnection, key: str) -> int | None:
    """A mark of the meta table, or None when unset."""
    rows = conn.execute("SELECT value FROM history_meta WHERE key = ?", [key]).fetchall()
    return None if not rows or rows[0][0] is None else int(rows[0][0])


def set_mark(conn: duckdb.DuckDBPyConnection, key: str, value: int | None) -> None:
    """Set (or clear, with None) a mark of the meta table."""
    conn.execute(
        "INSERT INTO history_meta VALUES (?, ?) ON CONFLICT DO UPDATE SET value = excluded.value",
        [key, value],
    ).fetchall()


def roll_up(conn: duckdb.DuckDBPyConnection, until_ms: int) -> tuple[int, int] | None:
    """Bring both rollups up to the hour of `until_ms` in one transaction (caller serialises).

    Returns the recomputed range (lo, hi) in epoch ms, or None when nothing needed doing.
    """
    until = get_mark(conn, "rollup_until")
    dirty = get_mark(conn, "dirty_from")
    floor = get_mark(conn, "raw_floor")
    target = floor_to(until_ms, HOUR_MS)
    if until is None:
        rows = conn.execute("SELECT min(ts) FROM raw WHERE ts < ?", [target]).fetchall()
        if not rows or rows[0][0] is None:
            return None
        lo = floor_to(int(rows[0][0]), HOUR_MS)
    else:
        lo = until
    hi = max(target, until if until is not None else target)
    if dirty is not None:
        lo = min(lo, floor_to(dirty, HOUR_MS))
    if floor is not None:
        lo = max(lo, floor)
    if lo >= hi:
        if dirty is not None:
            set_mark(conn, "dirty_from", None)
        return None
    params = {"lo": lo, "hi": hi}
    conn.begin()
    try:
        conn.execute("DELETE FROM rollup_1m WHERE ts >= $lo AND ts < $hi", params).fetchall()
        conn.execute("DELETE FROM rollup_1h WHERE ts >= $lo AND ts < $hi", params).fetchall()
        conn.execute(_ROLL_1M, params).fetchall()
        conn.execute(_ROLL_1H, params).fetchall()
        set_mark(conn, "rollup_until", hi)
        set_mark(conn, "dirty_from", None)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return lo, hi

"""Rollups of the raw history: 1-minute and 1-hour aggregates kept in step with `raw`.

`rollup_1m` and `rollup_1h` hold, per bucket start (epoch ms) and tag, the min, max, first,
last, sum and count of the good and uncertain values (quality > 0 with a value) and the count
of the bad rows. Buckets holding only bad rows are kept (count 0) so the bad count is complete.

`rollup_1m_hold` and `rollup_1h_hold` hold, for the same buckets, what time-weighted and
counter aggregates need (`hmi.history.aggregate`): the first and last sample time (any
quality), `hold` (the value of the last sample if it is good, else NULL: what holds past the
bucket end), the first and last good value, and of the sample-and-hold inside the bucket
(each good value held until the next sample, at most `HOLD_MAX_MS`, clipped at the bucket end)
the held ms and the integral (value·ms), and the counter increase between consecutive good
values inside the bucket (a decrease is a reset: the new value is the increase). Samples with
equal ts are ordered bad before good, then by value, so every aggregate is deterministic.
They are separate tables so the columns of `rollup_1m`/`rollup_1h` stay as they were.
`Pieces` and `roll_pieces` compute them with numpy (a SQL window over raw measured ~7x
slower than fetching the rows and sorting them in numpy), in chunks of whole hours of at most
`CHUNK_ROWS` raw rows: raw samples -> 1-minute buckets -> 1-hour buckets.

A meta table keeps three marks (epoch ms):

- `rollup_until`: both rollups are complete for every hour below it (it is hour aligned);
- `dirty_from`: the earliest ts appended below `rollup_until` since the last rollup (late data);
  `HistoryStore` lowers it in the same transaction as the append;
- `raw_floor`: raw rows below it were deleted by retention, so those buckets are never
  recomputed (late rows older than it are kept in `raw` but not added to the rollups);
- `rollup_hold_ms`: the `HOLD_MAX_MS` the hold tables were built with. When it is missing (a
  file from before the hold tables) or different, opening the store clears `rollup_until`, so
  the next `roll_up` rebuilds every rollup from raw (buckets below `raw_floor` cannot be
  rebuilt and keep no hold rows).

`roll_up` recomputes whole hours from `min(rollup_until, hour of dirty_from)` up to the hour of
`until_ms`: it deletes those buckets and aggregates them again, so running it twice, or again
after more data arrived, gives the same tables as one run over everything. Rows inserted into
`raw` directly with SQL (not through `HistoryStore.append*`) are not tracked as late data.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from hmi.history.transaction import transaction
from hmi.history_config import HOLD_MAX

__all__ = [
    "HOLD_MAX_MS",
    "HOUR_MS",
    "MINUTE_MS",
    "ROLLUP_DDL",
    "Pieces",
    "floor_to",
    "get_mark",
    "hour_chunks",
    "roll_pieces",
    "roll_up",
    "sample_order",
    "set_mark",
]

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
# the longest a good value holds (sample-and-hold); the heartbeat (`[history] max_interval`)
# may not exceed it. Changing it rebuilds the rollups on the next open (see `rollup_hold_ms`).
HOLD_MAX_MS = round(HOLD_MAX * 1000)

_COLUMNS = (
    "ts BIGINT NOT NULL, tag_id UINTEGER NOT NULL, min DOUBLE, max DOUBLE, first DOUBLE,"
    " last DOUBLE, sum DOUBLE, count UBIGINT NOT NULL, bad UBIGINT NOT NULL"
)

_HOLD_COLUMNS = (
    "ts BIGINT NOT NULL, tag_id UINTEGER NOT NULL, first_ts BIGINT NOT NULL,"
    " last_ts BIGINT NOT NULL, hold DOUBLE, first_good DOUBLE, last_good DOUBLE,"
    " held_ms BIGINT NOT NULL, integral DOUBLE NOT NULL, increase DOUBLE NOT NULL"
)

ROLLUP_DDL = (
    "CREATE TABLE IF NOT EXISTS history_meta (key VARCHAR PRIMARY KEY, value BIGINT)",
    f"CREATE TABLE IF NOT EXISTS rollup_1m ({_COLUMNS})",
    f"CREATE TABLE IF NOT EXISTS rollup_1h ({_COLUMNS})",
    f"CREATE TABLE IF NOT EXISTS rollup_1m_hold ({_HOLD_COLUMNS})",
    f"CREATE TABLE IF NOT EXISTS rollup_1h_hold ({_HOLD_COLUMNS})",
    # hold tables missing (older file) or built with another HOLD_MAX_MS: rebuild all rollups
    "DELETE FROM history_meta WHERE key = 'rollup_until' AND coalesce((SELECT value FROM"
    f" history_meta WHERE key = 'rollup_hold_ms'), -1) <> {HOLD_MAX_MS}",
    f"INSERT INTO history_meta VALUES ('rollup_hold_ms', {HOLD_MAX_MS})"
    " ON CONFLICT DO UPDATE SET value = excluded.value",
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


CHUNK_ROWS = 4_000_000  # raw rows per numpy pass of the hold rollups (bounds memory)

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Pieces:
    """Raw samples or buckets of history in (tag, time) order, with what holds need.

    Per piece: `ts` (sample time or bucket start), first/last sample time (any quality),
    `spill_from` (where the hold of its last sample goes on past what `held`/`integral` hold:
    the sample time, or the bucket end), `hold` (value of the last sample if good, else NaN),
    first/last good value (NaN: none), `held` ms and `integral` value·ms of the holds inside
    it and the counter `increase` inside it. Times are epoch ms.
    """

    tag: I64
    ts: I64
    first_ts: I64
    last_ts: I64
    spill_from: I64
    hold: F64
    first_good: F64
    last_good: F64
    held: F64
    integral: F64
    increase: F64

    def __len__(self) -> int:
        return len(self.ts)

    @classmethod
    def samples(cls, tag: npt.ArrayLike, ts: npt.ArrayLike, good: npt.ArrayLike) -> Pieces:
        """Raw samples as pieces, sorted; `good` is the value if quality > 0, else NaN.

        Samples with equal (tag, ts) are ordered bad before good, then by value.
        """
        t = np.asarray(tag, dtype=np.int64)
        ms = np.asarray(ts, dtype=np.int64)
        v = np.asarray(good, dtype=np.float64)
        order = sample_order(t, ms, v)
        t, ms, v = t[order], ms[order], v[order]
        zero = np.zeros(len(ms), dtype=np.float64)
        return cls(t, ms, ms, ms, ms, v, v, v, zero, zero, zero)

    def take(self, index: npt.NDArray[np.intp]) -> Pieces:
        """The pieces at `index` (a subset or a reordering)."""
        return Pieces(*(getattr(self, f.name)[index] for f in fields(self)))


def sample_order(tag: I64, ts: I64, good: F64) -> npt.NDArray[np.intp]:
    """Indices sorting samples by tag, ts, bad before good, then value."""
    if len(ts) == 0:
        return np.empty(0, dtype=np.intp)
    rel = ts - ts.min()
    if rel.max() < 1 << 31 and tag.min() >= 0:
        key = (tag << 31) | rel
        order = np.argsort(key, kind="stable")
        if not np.any(np.diff(key[order]) == 0):  # no ties: done
            return order
    is_good = ~np.isnan(good)
    return np.lexsort((np.where(is_good, good, 0.0), is_good, ts, tag))


def roll_pieces(p: Pieces, step: int) -> Pieces:
    """Combine pieces into buckets of `step` ms (epoch aligned) per tag, holds clipped at ends."""
    n = len(p)
    if n == 0:
        return p
    b = p.ts - np.mod(p.ts, step)
    new = np.ones(n, dtype=bool)
    new[1:] = (p.tag[1:] != p.tag[:-1]) | (b[1:] != b[:-1])
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], n) - 1
    grp = np.cumsum(new) - 1
    bend = b + step
    nxt = np.empty(n, dtype=np.int64)
    nxt[:-1] = p.first_ts[1:]
    nxt[ends] = bend[ends]
    stop = np.minimum(np.minimum(nxt, p.last_ts + HOLD_MAX_MS), bend)
    has = ~np.isnan(p.hold)
    spill = np.where(has, np.maximum(stop - p.spill_from, 0), 0).astype(np.float64)
    weighted = np.where(has, p.hold * spill, 0.0)
    ng = len(starts)
    first_good = np.full(ng, np.nan)
    last_good = np.full(ng, np.nan)
    gi = np.flatnonzero(~np.isnan(p.first_good))
    gg = grp[gi]
    head = np.ones(len(gi), dtype=bool)
    head[1:] = gg[1:] != gg[:-1]
    tail = np.ones(len(gi), dtype=bool)
    tail[:-1] = head[1:]
    first_good[gg[head]] = p.first_good[gi[head]]
    last_good[gg[tail]] = p.last_good[gi[tail]]
    prev, cur = p.last_good[gi[:-1]], p.first_good[gi[1:]]
    steps = np.where(cur >= prev, cur - prev, cur)[~head[1:]]
    increase: F64 = np.add.reduceat(p.increase, starts) + np.bincount(
        gg[1:][~head[1:]], steps, minlength=ng
    ).astype(np.float64)
    return Pieces(
        tag=p.tag[starts],
        ts=b[starts],
        first_ts=p.first_ts[starts],
        last_ts=p.last_ts[ends],
        spill_from=bend[starts],
        hold=p.hold[ends],
        first_good=first_good,
        last_good=last_good,
        held=np.add.reduceat(p.held + spill, starts),
        integral=np.add.reduceat(p.integral + weighted, starts),
        increase=increase,
    )


def hour_chunks(
    conn: duckdb.DuckDBPyConnection, lo: int, hi: int, ids: list[int] | None = None
) -> list[tuple[int, int]]:
    """Ranges covering the raw rows of [lo, hi) (of tags `ids`, default all), cut at hour
    starts, of at most about CHUNK_ROWS rows each (more if one hour holds more)."""
    where = "" if ids is None else " AND list_contains($ids, tag_id)"
    params: dict[str, object] = {"lo": lo, "hi": hi}
    if ids is not None:
        params["ids"] = ids
    hours = conn.execute(
        f"SELECT ts - ((ts % {HOUR_MS}) + {HOUR_MS}) % {HOUR_MS} AS h, count(*) FROM raw"
        f" WHERE ts >= $lo AND ts < $hi{where} GROUP BY h ORDER BY h",
        params,
    ).fetchall()
    out: list[tuple[int, int]] = []
    c_lo, rows = lo, 0
    for h, n in hours:
        if rows and rows + n > CHUNK_ROWS:
            out.append((c_lo, int(h)))
            c_lo, rows = int(h), 0
        rows += int(n)
    if rows:
        out.append((c_lo, hi))
    return out


def _insert_holds(conn: duckdb.DuckDBPyConnection, table: str, p: Pieces) -> None:
    """Append bucket pieces to a hold table (NaN values become NULL)."""
    if len(p) == 0:
        return

    def opt(a: F64) -> pa.Array:
        return pa.array(a, pa.float64(), mask=np.isnan(a))

    batch = pa.table(
        {
            "ts": pa.array(p.ts, pa.int64()),
            "tag_id": pa.array(p.tag.astype(np.uint32), pa.uint32()),
            "first_ts": pa.array(p.first_ts, pa.int64()),
            "last_ts": pa.array(p.last_ts, pa.int64()),
            "hold": opt(p.hold),
            "first_good": opt(p.first_good),
            "last_good": opt(p.last_good),
            "held_ms": pa.array(p.held.astype(np.int64), pa.int64()),
            "integral": pa.array(p.integral, pa.float64()),
            "increase": pa.array(p.increase, pa.float64()),
        }
    )
    view = f"_hold_batch_{table}"
    conn.register(view, batch)
    try:
        conn.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {view}").fetchall()
    finally:
        conn.unregister(view)


def _roll_holds(conn: duckdb.DuckDBPyConnection, lo: int, hi: int) -> None:
    """Fill both hold tables for the whole hours of [lo, hi) from raw (rows there deleted)."""
    for c_lo, c_hi in hour_chunks(conn, lo, hi):
        found = conn.execute(
            "SELECT tag_id::BIGINT AS tag, ts, CASE WHEN quality > 0 AND value IS NOT NULL"
            " THEN value ELSE 'NaN'::DOUBLE END AS good FROM raw WHERE ts >= ? AND ts < ?",
            [c_lo, c_hi],
        ).fetchnumpy()
        minutes = roll_pieces(Pieces.samples(found["tag"], found["ts"], found["good"]), MINUTE_MS)
        _insert_holds(conn, "rollup_1m_hold", minutes)
        _insert_holds(conn, "rollup_1h_hold", roll_pieces(minutes, HOUR_MS))


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
    with transaction(conn):
        conn.execute("DELETE FROM rollup_1m WHERE ts >= $lo AND ts < $hi", params).fetchall()
        conn.execute("DELETE FROM rollup_1h WHERE ts >= $lo AND ts < $hi", params).fetchall()
        conn.execute("DELETE FROM rollup_1m_hold WHERE ts >= $lo AND ts < $hi", params).fetchall()
        conn.execute("DELETE FROM rollup_1h_hold WHERE ts >= $lo AND ts < $hi", params).fetchall()
        conn.execute(_ROLL_1M, params).fetchall()
        conn.execute(_ROLL_1H, params).fetchall()
        _roll_holds(conn, lo, hi)
        set_mark(conn, "rollup_until", hi)
        set_mark(conn, "dirty_from", None)
    return lo, hi

"""Report aggregates of tag history per period: count, bad, min, max, avg, time-weighted
average, integral, held time and counter increase, from rollups where they cover the range.

Owns the semantics of report figures; it only reads the store (never writes or rolls up).
"Good" means quality > 0 with a value. Sample-and-hold: a good value holds from its sample
until the next sample of the tag (any quality), at most `HOLD_MAX` seconds; a bad sample holds
nothing. Holds cross period boundaries: the value in force at a period start comes from the
last sample before it. The last sample of a tag holds `HOLD_MAX` too (nothing says when the
recording stopped), so the newest periods may show a hold past the newest sample.

Per period: `twa = integral / held_s`; `integral` is in value·seconds (kW -> kJ); `delta` is
the counter increase: the sum of the differences of consecutive good values, a decrease being
a reset (the new value is the increase since the counter restarted from 0). The difference
into a period's first good value is taken from the last good value before it (however old),
so the deltas of consecutive periods add up to the delta over their union. A period with no
good sample has count 0 and NaN min/max/avg/delta (its increase counts where the next good
value is seen); a period without held time has held_s 0 and NaN twa/integral. Every period is
returned, also for tags without history.

Periods: `"hour"`, `"day"`, `"month"` are calendar periods of a zoneinfo zone (default the
machine's local time; DST days have 23 or 25 hours), or a number of seconds counted from
`start`; the first and last period are clipped to [start, end). Samples at the same ts are
ordered bad before good, then by value (as in `hmi.history.rollup`).

Speed: when every period boundary is a whole hour (minute), the range below
`HistoryStore.rollup_until()` is read from `rollup_1h` (`rollup_1m`) and their hold tables,
the rest from raw; holds entering a bucket, counter steps between buckets and the gaps
between them are combined here from adjacent rows, so the result equals the raw-only path
(`use_rollups=False`) up to float rounding of sums.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import numpy.typing as npt

from hmi.history.rollup import (
    HOLD_MAX_MS,
    HOUR_MS,
    MINUTE_MS,
    Pieces,
    floor_to,
    hour_chunks,
    sample_order,
)
from hmi.history.store import HistoryStore

__all__ = ["HOLD_MAX", "PERIODS", "Aggregates", "aggregate", "period_bounds"]

HOLD_MAX = HOLD_MAX_MS / 1000.0  # seconds; change `rollup.HOLD_MAX_MS` (rebuilds the rollups)
PERIODS = ("hour", "day", "month")

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
_NAN = "'NaN'::DOUBLE"


@dataclass(frozen=True, slots=True)
class Aggregates:
    """One tag's report rows, one per period (epoch s bounds); see the module for units."""

    start: F64
    end: F64
    count: I64
    bad: I64
    min: F64
    max: F64
    avg: F64
    twa: F64
    integral: F64
    held_s: F64
    delta: F64

    def __len__(self) -> int:
        return len(self.start)


def period_bounds(start: float, end: float, period: str | float, tz: str | None = None) -> F64:
    """Period boundaries (epoch s) from `start` to `end`: calendar periods or fixed seconds."""
    return _bounds_ms(_ms(start), _ms(end), period, tz) / 1000.0


def aggregate(
    store: HistoryStore,
    tags: Sequence[str],
    start: float,
    end: float,
    period: str | float = "hour",
    *,
    tz: str | None = None,
    use_rollups: bool = True,
) -> dict[str, Aggregates]:
    """Per tag, one row per period of [start, end) (epoch s); `use_rollups=False` reads raw only."""
    bounds = _bounds_ms(_ms(start), _ms(end), period, tz)
    known = {tag: tid for tag in tags if (tid := store.known_id(tag)) is not None}
    ids = sorted(set(known.values()))
    acc = _Accumulator(bounds, np.asarray(ids, dtype=np.int64))
    if ids and len(bounds) > 1:
        cur = store.cursor()
        try:
            _compute(cur, acc, ids, store.rollup_until() if use_rollups else None)
        finally:
            cur.close()
    rows = acc.result()
    empty = _Accumulator(bounds, np.empty(0, dtype=np.int64)).empty_rows()
    return {
        tag: rows[ids.index(known[tag])] if tag in known else empty for tag in dict.fromkeys(tags)
    }


def _ms(ts: float) -> int:
    return round(ts * 1000)


def _compute(
    cur: duckdb.DuckDBPyConnection, acc: _Accumulator, ids: list[int], covered: int | None
) -> None:
    """Feed the prior state, rollup rows and raw samples of the range into `acc`."""
    lo, hi = int(acc.bounds[0]), int(acc.bounds[-1])
    grid = int(np.gcd.reduce(acc.bounds))
    step = HOUR_MS if grid % HOUR_MS == 0 else MINUTE_MS if grid % MINUTE_MS == 0 else 0
    cov_hi = lo if covered is None or not step else max(lo, min(hi, covered))
    acc.prior(*_prior(cur, ids, lo, covered))
    if cov_hi > lo:
        acc.feed(*_rollup_pieces(cur, ids, lo, cov_hi, step))
    for c_lo, c_hi in hour_chunks(cur, cov_hi, hi, ids):
        found = cur.execute(
            "SELECT tag_id::BIGINT AS tag, ts, CASE WHEN quality > 0 AND value IS NOT NULL"
            f" THEN value ELSE {_NAN} END AS good FROM raw"
            " WHERE list_contains($ids, tag_id) AND ts >= $lo AND ts < $hi",
            {"ids": ids, "lo": c_lo, "hi": c_hi},
        ).fetchnumpy()
        p = Pieces.samples(found["tag"], found["ts"], found["good"])
        good = ~np.isnan(p.hold)
        acc.feed(p, _Plain(good.astype(np.int64), (~good).astype(np.int64), p.hold, p.hold))


@dataclass(frozen=True, slots=True)
class _Plain:
    """Per piece: good count, bad count, min, max (NaN: none); sum is min for a sample."""

    count: I64
    bad: I64
    min: F64
    max: F64
    sum: F64 | None = None


def _rollup_pieces(
    cur: duckdb.DuckDBPyConnection, ids: list[int], lo: int, hi: int, step: int
) -> tuple[Pieces, _Plain]:
    """Rollup buckets of [lo, hi) joined with their hold rows (missing ones: NaN holds)."""
    t = "rollup_1h" if step == HOUR_MS else "rollup_1m"
    f = "list_contains($ids, tag_id) AND ts >= $lo AND ts < $hi"  # both tables' filter
    r = cur.execute(
        "SELECT r.tag_id::BIGINT AS tag, r.ts, coalesce(h.first_ts, r.ts) AS first_ts,"
        f" coalesce(h.last_ts, r.ts) AS last_ts, r.ts + {step} AS spill_from,"
        f" coalesce(h.hold, {_NAN}) AS hold, coalesce(h.first_good, r.first, {_NAN}) AS fg,"
        f" coalesce(h.last_good, r.last, {_NAN}) AS lg,"
        f" coalesce(h.held_ms::DOUBLE, {_NAN}) AS held, coalesce(h.integral, {_NAN}) AS integ,"
        f" coalesce(h.increase, {_NAN}) AS inc, r.count::BIGINT AS count, r.bad::BIGINT AS bad,"
        f" coalesce(r.min, {_NAN}) AS min, coalesce(r.max, {_NAN}) AS max,"
        " coalesce(r.sum, 0.0) AS sum"
        f" FROM (SELECT * FROM {t} WHERE {f}) r"
        f" LEFT JOIN (SELECT * FROM {t}_hold WHERE {f}) h ON h.ts = r.ts AND h.tag_id = r.tag_id"
        " ORDER BY r.tag_id, r.ts",
        {"ids": ids, "lo": lo, "hi": hi},
    ).fetchnumpy()
    col = {k: np.asarray(v) for k, v in r.items()}
    p = Pieces(
        tag=col["tag"].astype(np.int64),
        ts=col["ts"].astype(np.int64),
        first_ts=col["first_ts"].astype(np.int64),
        last_ts=col["last_ts"].astype(np.int64),
        spill_from=col["spill_from"].astype(np.int64),
        hold=col["hold"].astype(np.float64),
        first_good=col["fg"].astype(np.float64),
        last_good=col["lg"].astype(np.float64),
        held=col["held"].astype(np.float64),
        integral=col["integ"].astype(np.float64),
        increase=col["inc"].astype(np.float64),
    )
    plain = _Plain(
        col["count"].astype(np.int64),
        col["bad"].astype(np.int64),
        col["min"].astype(np.float64),
        col["max"].astype(np.float64),
        col["sum"].astype(np.float64),
    )
    return p, plain


def _prior(
    cur: duckdb.DuckDBPyConnection, ids: list[int], start: int, covered: int | None
) -> tuple[I64, I64, F64, I64, F64]:
    """Before `start`, per tag: the last sample within HOLD_MAX (tag, last_ts, hold) and the
    last good value ever (tag, value), from rollups below `covered` and raw above."""
    cov = start if covered is None else min(start, covered)
    h1 = floor_to(cov, HOUR_MS) if covered is not None else None
    m1 = floor_to(cov, MINUTE_MS) if covered is not None else None
    raw_lo = m1
    since = start - HOLD_MAX_MS
    parts, good_parts = [], []
    params: dict[str, object] = {"ids": ids, "start": start, "since": since}
    sel = "list_contains($ids, tag_id)"
    if h1 is not None and m1 is not None:
        params.update(h1=h1, m1=m1, hs=floor_to(since, HOUR_MS), ms=floor_to(since, MINUTE_MS))
        parts += [
            f"SELECT tag_id, last_ts AS t, hold AS v FROM rollup_1h_hold WHERE {sel}"
            " AND ts >= $hs AND ts < $h1",
            f"SELECT tag_id, last_ts, hold FROM rollup_1m_hold WHERE {sel}"
            " AND ts >= greatest($h1, $ms) AND ts < $m1",
        ]
        good_parts += [
            f"SELECT tag_id, ts AS t, last_good AS v FROM rollup_1h_hold WHERE {sel}"
            " AND ts < $h1 AND last_good IS NOT NULL",
            f"SELECT tag_id, ts, last_good FROM rollup_1m_hold WHERE {sel}"
            " AND ts >= $h1 AND ts < $m1 AND last_good IS NOT NULL",
        ]
    low = "" if raw_lo is None else " AND ts >= $raw_lo"
    if raw_lo is not None:
        params["raw_lo"] = raw_lo
    good_v = "CASE WHEN quality > 0 THEN value END"
    parts.append(
        f"SELECT tag_id, ts, {good_v} FROM raw WHERE {sel}{low} AND ts >= $since AND ts < $start"
    )
    good_parts.append(
        f"SELECT tag_id, ts, value FROM raw WHERE {sel}{low} AND ts < $start"
        " AND quality > 0 AND value IS NOT NULL"
    )

    def run(sql: str) -> dict[str, npt.NDArray[np.generic]]:
        used = {k: v for k, v in params.items() if f"${k}" in sql}
        return dict(cur.execute(sql, used).fetchnumpy())

    last = run(
        f"SELECT tag_id::BIGINT AS tag, t, coalesce(v, {_NAN}) AS v FROM ("
        + " UNION ALL ".join(parts)
        + ") p(tag_id, t, v) WHERE t >= $since"
    )
    tag = np.asarray(last["tag"], dtype=np.int64)
    t = np.asarray(last["t"], dtype=np.int64)
    v = np.asarray(last["v"], dtype=np.float64)
    order = sample_order(tag, t, v)
    tail = np.ones(len(order), dtype=bool)
    tail[:-1] = tag[order][1:] != tag[order][:-1]
    pick = order[tail]
    good = run(
        "SELECT tag_id::BIGINT AS tag, arg_max(v, struct_pack(a := t, b := v)) AS v FROM ("
        + " UNION ALL ".join(good_parts)
        + ") p(tag_id, t, v) GROUP BY tag_id"
    )
    return (
        tag[pick],
        t[pick],
        v[pick],
        np.asarray(good["tag"], dtype=np.int64),
        np.asarray(good["v"], dtype=np.float64),
    )


class _Accumulator:
    """Per (tag, period) sums fed with pieces in (tag, time) order, chunk after chunk.

    The last piece of each tag is carried to the next chunk: its hold is spread once the
    next piece of the tag (or the end) is known; so is the last good value (counter steps).
    """

    def __init__(self, bounds: I64, ids: I64) -> None:
        self.bounds = bounds
        self.ids = ids
        self.n_periods = max(len(bounds) - 1, 0)
        size = len(ids) * self.n_periods
        self.count = np.zeros(size, dtype=np.int64)
        self.bad = np.zeros(size, dtype=np.int64)
        self.sum = np.zeros(size)
        self.min = np.full(size, np.nan)
        self.max = np.full(size, np.nan)
        self.held = np.zeros(size)
        self.integral = np.zeros(size)
        self.delta = np.zeros(size)
        n = len(ids)
        self.c_valid = np.zeros(n, dtype=bool)
        self.c_last_ts = np.zeros(n, dtype=np.int64)
        self.c_from = np.zeros(n, dtype=np.int64)
        self.c_hold = np.full(n, np.nan)
        self.c_good = np.full(n, np.nan)

    def _rows(self, tag: I64) -> I64:
        return np.searchsorted(self.ids, tag).astype(np.int64)

    def prior(self, tag: I64, last_ts: I64, hold: F64, good_tag: I64, good: F64) -> None:
        """The state before `start`: last sample (its hold) and last good value per tag."""
        rows = self._rows(tag)
        self.c_valid[rows] = True
        self.c_last_ts[rows] = last_ts
        self.c_from[rows] = last_ts
        self.c_hold[rows] = hold
        self.c_good[self._rows(good_tag)] = good

    def feed(self, p: Pieces, plain: _Plain) -> None:
        """Add pieces (all inside [start, end), each inside one period) in (tag, time) order."""
        n = len(p)
        if n == 0:
            return
        row = self._rows(p.tag)
        k = np.searchsorted(self.bounds, p.ts, side="right") - 1
        g = row * self.n_periods + k
        new = np.ones(n, dtype=bool)
        new[1:] = g[1:] != g[:-1]
        starts = np.flatnonzero(new)
        gs = g[starts]  # each (tag, period) is one run: pieces are in (tag, time) order
        self.count[gs] += np.add.reduceat(plain.count, starts)
        self.bad[gs] += np.add.reduceat(plain.bad, starts)
        sums = np.where(np.isnan(plain.min), 0.0, plain.min) if plain.sum is None else plain.sum
        self.sum[gs] += np.add.reduceat(sums, starts)
        self.min[gs] = np.fmin(self.min[gs], np.fmin.reduceat(plain.min, starts))
        self.max[gs] = np.fmax(self.max[gs], np.fmax.reduceat(plain.max, starts))
        self.held[gs] += np.add.reduceat(p.held, starts)
        self.integral[gs] += np.add.reduceat(p.integral, starts)
        self.delta[gs] += np.add.reduceat(p.increase, starts)
        head = np.ones(n, dtype=bool)
        head[1:] = row[1:] != row[:-1]
        heads = np.flatnonzero(head)
        tails = np.append(heads[1:], n) - 1
        # holds of all but each tag's last piece end at the next piece of the tag
        inner = np.flatnonzero(~head[1:])
        self._spread(
            row[inner], p.spill_from[inner], p.first_ts[inner + 1], p.last_ts[inner], p.hold[inner]
        )
        # the carried piece of each tag ends at the tag's first piece here
        hr = row[heads]
        c = hr[self.c_valid[hr]]
        self._spread(
            c,
            self.c_from[c],
            p.first_ts[heads][self.c_valid[hr]],
            self.c_last_ts[c],
            self.c_hold[c],
        )
        tr = row[tails]
        self.c_valid[tr] = True
        self.c_last_ts[tr] = p.last_ts[tails]
        self.c_from[tr] = p.spill_from[tails]
        self.c_hold[tr] = p.hold[tails]
        # counter steps into each good piece from the previous good one (or the carried value)
        gi = np.flatnonzero(~np.isnan(p.first_good))
        if len(gi):
            grow = row[gi]
            prev = np.empty(len(gi))
            prev[1:] = p.last_good[gi[:-1]]
            first = np.ones(len(gi), dtype=bool)
            first[1:] = grow[1:] != grow[:-1]
            prev[first] = self.c_good[grow[first]]
            cur = p.first_good[gi]
            steps = np.where(np.isnan(prev), 0.0, np.where(cur >= prev, cur - prev, cur))
            np.add.at(self.delta, g[gi], steps)
            last = np.ones(len(gi), dtype=bool)
            last[:-1] = first[1:]
            self.c_good[grow[last]] = p.last_good[gi[last]]

    def _spread(self, row: I64, frm: I64, nxt: I64, last_ts: I64, hold: F64) -> None:
        """Add holds [max(frm, start), min(nxt, last_ts + HOLD_MAX, end)) to their periods."""
        lo = np.maximum(frm, self.bounds[0])
        hi = np.minimum(np.minimum(nxt, last_ts + HOLD_MAX_MS), self.bounds[-1])
        ok = ~np.isnan(hold) & (hi > lo)
        row, lo, hi, v = row[ok], lo[ok], hi[ok], hold[ok]
        if len(lo) == 0:
            return
        k0 = np.searchsorted(self.bounds, lo, side="right") - 1
        k1 = np.searchsorted(self.bounds, hi - 1, side="right") - 1
        parts = k1 - k0 + 1
        idx = np.repeat(np.arange(len(lo)), parts)
        k = k0[idx] + np.arange(len(idx)) - np.repeat(np.cumsum(parts) - parts, parts)
        dt = np.minimum(hi[idx], self.bounds[k + 1]) - np.maximum(lo[idx], self.bounds[k])
        g = row[idx] * self.n_periods + k
        size = len(self.held)
        self.held += np.bincount(g, dt.astype(np.float64), minlength=size)
        self.integral += np.bincount(g, v[idx] * dt, minlength=size)

    def result(self) -> list[Aggregates]:
        """Spread the carried holds to the end; the rows of each tag, in `ids` order."""
        if self.n_periods:
            c = np.flatnonzero(self.c_valid)
            end = np.full(len(c), self.bounds[-1])
            self._spread(c, self.c_from[c], end, self.c_last_ts[c], self.c_hold[c])
        self.c_valid[:] = False
        shape = (len(self.ids), self.n_periods)
        nan = np.full(len(self.held), np.nan)
        good = self.count > 0
        held = self.held > 0
        avg = np.divide(self.sum, self.count, out=nan.copy(), where=good)
        twa = np.divide(self.integral, self.held, out=nan.copy(), where=held)
        integral = np.divide(self.integral, 1000.0, out=nan.copy(), where=held)
        fields = {
            "count": self.count,
            "bad": self.bad,
            "min": self.min,
            "max": self.max,
            "avg": avg,
            "twa": twa,
            "integral": integral,
            "held_s": self.held / 1000.0,
            "delta": np.where(good, self.delta, np.nan),
        }
        per = {k: v.reshape(shape) for k, v in fields.items()}
        start, end = self.bounds[:-1] / 1000.0, self.bounds[1:] / 1000.0
        return [
            Aggregates(start, end, **{k: v[i] for k, v in per.items()})
            for i in range(len(self.ids))
        ]

    def empty_rows(self) -> Aggregates:
        """The rows of a tag without history."""
        n = self.n_periods
        nan = np.full(n, np.nan)
        zero = np.zeros(n, dtype=np.int64)
        return Aggregates(
            self.bounds[:-1] / 1000.0,
            self.bounds[1:] / 1000.0,
            zero,
            zero,
            nan,
            nan,
            nan,
            nan,
            nan,
            np.zeros(n),
            nan,
        )


def _bounds_ms(start: int, end: int, period: str | float, tz: str | None) -> I64:
    """Boundaries (epoch ms) of the periods of [start, end), first and last clipped."""
    if end <= start:
        return np.array([start], dtype=np.int64)[:0]
    if isinstance(period, str):
        if period not in PERIODS:
            raise ValueError(f"period must be one of {PERIODS} or seconds, not {period!r}")
        inner = [t for t in _calendar(start, end, period, tz) if start < t < end]
    else:
        step = round(float(period) * 1000)
        if step <= 0 or not math.isfinite(period):
            raise ValueError(f"period must be > 0 seconds, not {period!r}")
        inner = list(range(start + step, end, step))
    return np.array([start, *inner, end], dtype=np.int64)


def _calendar(start: int, end: int, period: str, tz: str | None) -> list[int]:
    """Starts (epoch ms) of the calendar periods of a zone from the one holding `start`."""
    zone = ZoneInfo(tz) if tz is not None else None

    def local(ms: int) -> datetime:
        if zone is None:
            return datetime.fromtimestamp(ms / 1000.0)  # naive local time
        return datetime.fromtimestamp(ms / 1000.0, zone).replace(tzinfo=None)

    def epoch_ms(d: datetime) -> int:
        return round((d if zone is None else d.replace(tzinfo=zone)).timestamp() * 1000)

    if period == "hour":  # local hour starts are on a 15 min grid of UTC in every zone now
        grid = 15 * MINUTE_MS
        out = []
        for t in range(floor_to(start, grid), end, grid):
            here = local(t)
            if here.minute == 0 and here.second == 0 and here.microsecond == 0:
                out.append(t)
        return out
    day = local(start).date().replace(day=1) if period == "month" else local(start).date()
    starts: list[int] = []
    while not starts or starts[-1] < end:
        starts.append(epoch_ms(datetime.combine(day, datetime.min.time())))
        if period == "day":
            day += timedelta(days=1)
        else:
            day = date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)
    return starts

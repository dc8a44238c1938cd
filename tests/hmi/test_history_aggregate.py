"""Report aggregates: equal to a numpy sample-and-hold reference, across DST days, gaps,
counter resets and the rollup/raw border; rollups give the same answer as raw only."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from hmi.history.aggregate import HOLD_MAX, Aggregates, aggregate, period_bounds
from hmi.history.store import HistoryStore

HOLD_MS = round(HOLD_MAX * 1000)
FIELDS = ("min", "max", "avg", "twa", "integral", "held_s", "delta")


def _ms(iso: str) -> int:
    return round(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp() * 1000)


@pytest.fixture
def store(tmp_path: Path):
    s = HistoryStore(tmp_path / "history.duckdb")
    yield s
    s.close()


def test_period_bounds_follow_the_calendar_of_the_zone() -> None:
    berlin = "Europe/Berlin"
    day = period_bounds(
        _ms("2024-03-30T23:00") / 1000, _ms("2024-04-01T22:00") / 1000, "day", berlin
    )
    assert np.diff(day).tolist() == [23 * 3600, 24 * 3600]  # spring forward: 23 h
    autumn = period_bounds(
        _ms("2024-10-26T22:00") / 1000, _ms("2024-10-27T23:00") / 1000, "hour", berlin
    )
    assert len(autumn) - 1 == 25  # fall back: 25 hours, 02:00-03:00 twice
    month = period_bounds(
        _ms("2024-01-15T00:00") / 1000, _ms("2024-04-01T00:00") / 1000, "month", "UTC"
    )
    assert [datetime.fromtimestamp(t, UTC).strftime("%m-%d") for t in month] == [
        "01-15", "02-01", "03-01", "04-01",
    ]  # fmt: skip
    kolkata = period_bounds(
        _ms("2024-01-01T00:00") / 1000, _ms("2024-01-01T03:00") / 1000, "hour", "Asia/Kolkata"
    )
    assert [int(t) % 3600 for t in kolkata[1:-1]] == [1800, 1800, 1800]  # UTC+5:30
    fixed = period_bounds(0.0, 1000.0, 300)
    assert fixed.tolist() == [0.0, 300.0, 600.0, 900.0, 1000.0]
    with pytest.raises(ValueError):
        period_bounds(0.0, 10.0, "week")
    with pytest.raises(ValueError):
        period_bounds(0.0, 10.0, 0)


def test_hand_computed_hours(store: HistoryStore) -> None:
    h = _ms("2024-05-06T10:00")
    m = 60_000
    store.append(
        [
            ("P", h, 10.0, 2),
            ("P", h + 15 * m, 20.0, 1),  # uncertain counts as good
            ("P", h + 30 * m, 999.0, 0),  # bad: holds nothing
            ("P", h + 45 * m, 40.0, 2),  # holds 1 h (HOLD_MAX) to 11:45, then a gap
            ("P", h + 180 * m, 0.0, 2),  # 13:00, the last sample: holds to 14:00
            ("C", h + 5 * m, 100.0, 2),
            ("C", h + 20 * m, 150.0, 2),
            ("C", h + 25 * m, None, 2),  # no value: bad
            ("C", h + 40 * m, 30.0, 2),  # reset: +30
            ("C", h + 70 * m, 50.0, 2),  # 11:10: +20
        ]
    )
    got = aggregate(store, ["P", "C", "nope"], h / 1000, (h + 5 * 60 * m) / 1000, "hour", tz="UTC")
    p, c, nope = got["P"], got["C"], got["nope"]
    assert p.count.tolist() == [3, 0, 0, 1, 0]
    assert p.bad.tolist() == [1, 0, 0, 0, 0]
    assert p.held_s.tolist() == [2700.0, 2700.0, 0.0, 3600.0, 0.0]
    assert p.integral[:2].tolist() == [63_000.0, 108_000.0]  # value·s
    assert p.twa[:2].tolist() == pytest.approx([63_000 / 2700, 40.0])
    assert np.isnan(p.twa[2]) and np.isnan(p.integral[2]) and p.twa[3] == 0.0
    assert p.avg[0] == pytest.approx(70 / 3) and (p.min[0], p.max[0]) == (10.0, 40.0)
    assert np.isnan(p.avg[1]) and np.isnan(p.min[1]) and np.isnan(p.delta[1])
    assert c.delta[:2].tolist() == [80.0, 20.0]  # 50 + 30 (reset), then 20
    assert c.bad.tolist() == [1, 0, 0, 0, 0]
    assert nope.count.tolist() == [0] * 5 and np.all(np.isnan(nope.twa))
    assert nope.start.tolist() == p.start.tolist()
    store.rollup(h + 5 * 60 * m)
    again = aggregate(store, ["P", "C"], h / 1000, (h + 5 * 60 * m) / 1000, "hour", tz="UTC")
    _assert_same(again["P"], p)
    _assert_same(again["C"], c)
    later = aggregate(store, ["P"], (h + 11 * 60 * m) / 1000, (h + 11 * 60 * m) / 1000, "hour")
    assert len(later["P"]) == 0


def _series(seed: int) -> dict[str, np.ndarray]:
    """Three tags, irregular, 2024-03-30 20:00 to 2024-04-01 04:00 UTC (Berlin goes to DST).

    Tag 1 has a 2.5 h gap; tag 3 is a counter with resets; bad and value-less rows; two
    samples of tag 2 share a ts with others (one bad, one good)."""
    rng = np.random.default_rng(seed)
    t0, t1 = _ms("2024-03-30T20:00"), _ms("2024-04-01T04:00")
    parts = []
    for tag in (1, 2, 3):
        ts = t0 + np.cumsum(rng.integers(1_000, 240_000, 4_000))
        ts = ts[ts < t1]
        if tag == 1:
            ts = ts[(ts < _ms("2024-03-31T05:10")) | (ts >= _ms("2024-03-31T07:40"))]
        n = len(ts)
        if tag == 3:
            value = np.cumsum(rng.uniform(0.0, 5.0, n))
            for cut in rng.choice(n, 4, replace=False):
                value[cut:] -= value[cut] - rng.uniform(0.0, 3.0)  # reset to near 0
        else:
            value = rng.normal(50.0, 20.0, n)
        parts.append((ts, np.full(n, tag, np.uint32), value))
    ts = np.concatenate([p[0] for p in parts])
    tag = np.concatenate([p[1] for p in parts])
    value = np.concatenate([p[2] for p in parts])
    quality = rng.choice(np.array([0, 1, 2], np.uint8), len(ts), p=[0.05, 0.1, 0.85])
    value[quality == 0] = -1e6
    value[rng.random(len(ts)) < 0.01] = np.nan
    i2 = np.flatnonzero(tag == 2)[[100, 300]]
    dup_ts = ts[i2]
    ts = np.concatenate([ts, dup_ts])
    tag = np.concatenate([tag, [2, 2]]).astype(np.uint32)
    value = np.concatenate([value, [-5e5, 77.0]])
    quality = np.concatenate([quality, [0, 2]]).astype(np.uint8)
    return {"ts": ts, "tag": tag, "value": value, "quality": quality}


def _reference(s: dict[str, np.ndarray], tag: int, bounds_s: np.ndarray) -> dict[str, list]:
    """Sample-and-hold aggregates of one tag straight from the samples, period by period."""
    bounds = np.round(bounds_s * 1000).astype(np.int64)
    sel = s["tag"] == tag
    ts, v, q = s["ts"][sel], s["value"][sel], s["quality"][sel]
    good = (q > 0) & ~np.isnan(v)
    order = np.lexsort((np.where(good, v, 0.0), good, ts))
    ts, v, good = ts[order], v[order], good[order]
    nxt = np.append(ts[1:], np.iinfo(np.int64).max)
    hold_end = np.minimum(nxt, ts + HOLD_MS)
    gts, gv = ts[good], v[good]
    inc = np.where(np.diff(gv) >= 0, np.diff(gv), gv[1:])  # the step into gv[1:]
    out: dict[str, list] = {f: [] for f in ("count", "bad", *FIELDS)}
    for p0, p1 in itertools.pairwise(bounds.tolist()):
        inside = (ts >= p0) & (ts < p1)
        vals = v[inside & good]
        dt = np.clip(np.minimum(hold_end, p1) - np.maximum(ts, p0), 0, None) * good
        held = float(dt.sum())
        integral = float((dt * np.where(good, v, 0.0)).sum())
        nan = float("nan")
        out["count"].append(len(vals))
        out["bad"].append(int((inside & ~good).sum()))
        out["min"].append(vals.min() if len(vals) else nan)
        out["max"].append(vals.max() if len(vals) else nan)
        out["avg"].append(vals.mean() if len(vals) else nan)
        out["twa"].append(integral / held if held else nan)
        out["integral"].append(integral / 1000 if held else nan)
        out["held_s"].append(held / 1000)
        stepped = (gts[1:] >= p0) & (gts[1:] < p1)
        out["delta"].append(float(inc[stepped].sum()) if len(vals) else nan)
    return out


def _assert_reference(got: Aggregates, want: dict[str, list], label: str) -> None:
    assert got.count.tolist() == want["count"], label
    assert got.bad.tolist() == want["bad"], label
    np.testing.assert_array_equal(got.min, want["min"], err_msg=label)
    np.testing.assert_array_equal(got.max, want["max"], err_msg=label)
    np.testing.assert_array_equal(got.held_s, want["held_s"], err_msg=label)
    for f in ("avg", "twa", "integral", "delta"):
        np.testing.assert_allclose(getattr(got, f), want[f], rtol=1e-9, atol=1e-6, err_msg=label)


def _assert_same(a: Aggregates, b: Aggregates) -> None:
    np.testing.assert_array_equal(a.start, b.start)
    np.testing.assert_array_equal(a.end, b.end)
    np.testing.assert_array_equal(a.count, b.count)
    np.testing.assert_array_equal(a.bad, b.bad)
    for f in ("min", "max", "held_s"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)
    for f in ("avg", "twa", "integral", "delta"):
        np.testing.assert_allclose(getattr(a, f), getattr(b, f), rtol=1e-9, atol=1e-6, err_msg=f)


CASES = [  # (period, zone): hours and days of Berlin's DST day, 15 min (1 min rollups), 90 s
    ("hour", "Europe/Berlin"),
    ("day", "Europe/Berlin"),
    (900, None),
    (90, None),
]


@pytest.mark.parametrize(("period", "tz"), CASES)
def test_matches_numpy_reference_on_rollups_and_raw(
    store: HistoryStore, period: str | int, tz: str | None
) -> None:
    s = _series(7)
    store.tag_ids(["A", "B", "C"])  # ids 1, 2, 3
    store.append_arrays(s["ts"], s["tag"], s["value"], s["quality"])
    store.rollup(_ms("2024-03-31T18:20"))  # rolled up to 18:00 UTC, raw after
    assert store.rollup_until() == _ms("2024-03-31T18:00")
    start, end = _ms("2024-03-30T23:00") / 1000, _ms("2024-04-01T22:00") / 1000
    fast = aggregate(store, ["A", "B", "C"], start, end, period, tz=tz)
    slow = aggregate(store, ["A", "B", "C"], start, end, period, tz=tz, use_rollups=False)
    bounds = period_bounds(start, end, period, tz)
    if period == "hour":
        assert len(bounds) - 1 == 23 + 24
    for tid, name in ((1, "A"), (2, "B"), (3, "C")):
        want = _reference(s, tid, bounds)
        _assert_reference(slow[name], want, f"raw {name}")
        _assert_reference(fast[name], want, f"rollups {name}")
        _assert_same(fast[name], slow[name])
        np.testing.assert_array_equal(fast[name].start, bounds[:-1])
    a = fast["A"]
    after = a.start >= _ms("2024-04-01T05:00") / 1000  # past the data and its last hold
    assert np.all(a.count[after] == 0) and np.all(a.held_s[after] == 0)
    assert np.all(np.isnan(a.avg[after])) and np.all(np.isnan(a.twa[after]))
    assert period == "day" or after.sum() >= 10
    assert 0 < np.nansum(a.held_s) < (end - start)  # the gap and the end are not covered
    c = fast["C"]
    assert np.nansum(c.delta) == pytest.approx(_reference(s, 3, np.array([start, end]))["delta"][0])


def test_late_start_uses_the_value_before_it(store: HistoryStore) -> None:
    s = _series(11)
    store.tag_ids(["A", "B", "C"])
    store.append_arrays(s["ts"], s["tag"], s["value"], s["quality"])
    store.rollup(_ms("2024-04-01T04:00"))
    start = _ms("2024-03-31T09:17:30.250") / 1000  # unaligned: raw only, holds from before
    end = _ms("2024-03-31T20:00") / 1000
    for use_rollups in (True, False):
        got = aggregate(store, ["C", "B"], start, end, 3600, use_rollups=use_rollups)
        for tid, name in ((3, "C"), (2, "B")):
            _assert_reference(got[name], _reference(s, tid, period_bounds(start, end, 3600)), name)
    h9 = _ms("2024-03-31T09:00") / 1000  # rolled up: the hold entering 09:00 is from a bucket
    hours = aggregate(store, ["B"], h9, end, "hour", tz="UTC")["B"]
    _assert_reference(hours, _reference(s, 2, period_bounds(h9, end, "hour", "UTC")), "B")


def test_old_file_gets_hold_tables_rebuilt(tmp_path: Path) -> None:
    s = _series(3)
    path = tmp_path / "old.duckdb"
    store = HistoryStore(path)
    store.tag_ids(["A", "B", "C"])
    store.append_arrays(s["ts"], s["tag"], s["value"], s["quality"])
    store.rollup(_ms("2024-04-01T00:00"))
    start, end = _ms("2024-03-31T00:00") / 1000, _ms("2024-04-01T00:00") / 1000
    want = aggregate(store, ["A", "C"], start, end, "hour", tz="UTC")
    cur = store.cursor()
    cur.execute("DROP TABLE rollup_1h_hold")  # as a file from before the hold tables
    cur.execute("DROP TABLE rollup_1m_hold")
    cur.execute("DELETE FROM history_meta WHERE key = 'rollup_hold_ms'")
    cur.close()
    store.close()
    store = HistoryStore(path)
    try:
        assert store.rollup_until() is None  # rollups are rebuilt on the next rollup
        store.rollup(_ms("2024-04-01T00:00"))
        assert store.rollup_until() == _ms("2024-04-01T00:00")
        got = aggregate(store, ["A", "C"], start, end, "hour", tz="UTC")
        for name in ("A", "C"):
            _assert_same(got[name], want[name])
    finally:
        store.close()

"""History rollups: equal to a numpy aggregation, idempotent and incremental, used by trends,
and retention that only deletes raw rows the rollups cover."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hmi.history.query import HistoryReader
from hmi.history.rollup import HOUR_MS, MINUTE_MS
from hmi.history.store import HistoryStore

START = 472_222 * HOUR_MS  # an hour boundary, epoch ms (2023-11-14 22:00 UTC)


@pytest.fixture
def store(tmp_path: Path):
    s = HistoryStore(tmp_path / "history.duckdb")
    yield s
    s.close()


def _series(seed: int, hours: float, step_ms: int = 1000) -> dict[str, np.ndarray]:
    """Irregular samples of two tags from 20 min past START, with bad and value-less rows."""
    rng = np.random.default_rng(seed)
    n = int(hours * HOUR_MS / step_ms)
    ts = START + 20 * MINUTE_MS + np.cumsum(rng.integers(1, 2 * step_ms, n)).astype(np.int64)
    tag = rng.integers(1, 3, n).astype(np.uint32)
    value = rng.normal(0.0, 10.0, n)
    quality = rng.choice(np.array([0, 1, 2], dtype=np.uint8), n, p=[0.05, 0.15, 0.8])
    value[quality == 0] = 1e6  # a bad value must never count
    value[rng.random(n) < 0.01] = np.nan  # no value: counted as bad
    return {"ts": ts, "tag": tag, "value": value, "quality": quality}


def _append(store: HistoryStore, s: dict[str, np.ndarray], sel: Any = slice(None)) -> None:
    store.tag_ids(["T1", "T2"])  # ids 1 and 2
    store.append_arrays(s["ts"][sel], s["tag"][sel], s["value"][sel], s["quality"][sel])


def _reference(s: dict[str, np.ndarray], step: int, hi: int) -> dict[tuple[int, int], tuple]:
    """(bucket, tag) -> (min, max, first, last, sum, count, bad) of the rows below `hi`."""
    out: dict[tuple[int, int], tuple] = {}
    ts, tag, value, quality = s["ts"], s["tag"], s["value"], s["quality"]
    good = (quality > 0) & ~np.isnan(value)
    bucket = ts - ts % step
    for key in sorted(set(zip(bucket[ts < hi].tolist(), tag[ts < hi].tolist(), strict=True))):
        rows = (bucket == key[0]) & (tag == key[1])
        g = rows & good
        v = value[g]
        if len(v):
            order = np.argsort(ts[g], kind="stable")
            out[key] = (v.min(), v.max(), v[order[0]], v[order[-1]], v.sum(), len(v))
        else:
            out[key] = (None, None, None, None, None, 0)
        out[key] += (int((rows & ~good).sum()),)
    return out


def _table(store: HistoryStore, name: str) -> dict[tuple[int, int], tuple]:
    cur = store.cursor()
    try:
        rows = cur.execute(f"SELECT * FROM {name} ORDER BY ts, tag_id").fetchall()
    finally:
        cur.close()
    return {(r[0], r[1]): tuple(r[2:]) for r in rows}


def _assert_same(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for key, w in want.items():
        g = got[key]
        assert g[:4] == w[:4], key  # min, max, first, last exactly
        if w[4] is None:  # a bucket of bad rows only has no sum
            assert g[4] is None, key
        else:
            assert g[4] == pytest.approx(w[4], rel=1e-12, abs=1e-9), key
        assert g[5:] == w[5:], key  # count, bad


def test_rollup_equals_numpy_aggregation(store: HistoryStore) -> None:
    s = _series(1, hours=3.5)
    _append(store, s)
    until = START + 3 * HOUR_MS + 5 * MINUTE_MS  # only whole hours are rolled up
    assert store.rollup(until) == (START, START + 3 * HOUR_MS)
    assert store.rollup_until() == START + 3 * HOUR_MS
    m1 = _table(store, "rollup_1m")
    _assert_same(m1, _reference(s, MINUTE_MS, START + 3 * HOUR_MS))
    _assert_same(_table(store, "rollup_1h"), _reference(s, HOUR_MS, START + 3 * HOUR_MS))
    assert len(m1) == 2 * 160  # two tags, 2 h 40 min
    assert all(r[1] is None or r[1] < 1e6 for r in m1.values())
    assert sum(r[6] for r in m1.values()) > 0
    assert store.rollup(until) is None  # nothing new: nothing recomputed
    assert _table(store, "rollup_1m") == m1


def test_rollup_idempotent_incremental_and_late(tmp_path: Path) -> None:
    s = _series(2, hours=4.0)
    late = {
        "ts": np.array([START + 30 * MINUTE_MS + 7], dtype=np.int64),
        "tag": np.array([1], dtype=np.uint32),
        "value": np.array([5_000.0]),
        "quality": np.array([2], dtype=np.uint8),
    }
    split = START + 2 * HOUR_MS + 10 * MINUTE_MS
    inc = HistoryStore(tmp_path / "inc.duckdb")
    try:
        _append(inc, s, s["ts"] < split)
        inc.rollup(split)  # rolls [START, START + 2 h)
        assert inc.rollup_until() == START + 2 * HOUR_MS
        _append(inc, s, s["ts"] >= split)
        inc.rollup(START + 5 * HOUR_MS)
        _append(inc, late)  # late data for an already rolled hour
        assert inc.rollup_until() == START  # that hour is no longer covered ...
        r = HistoryReader(inc)
        hourly = r.trend(["T1"], START / 1000, (START + 5 * HOUR_MS) / 1000, 5)["T1"]
        assert hourly.max[0] == 5_000.0  # ... so trends read it from raw meanwhile
        assert inc.rollup(START + 5 * HOUR_MS) == (START, START + 5 * HOUR_MS)
        inc.rollup(START + 5 * HOUR_MS)  # twice: same result
        got = {t: _table(inc, t) for t in ("rollup_1m", "rollup_1h")}
    finally:
        inc.close()
    once = HistoryStore(tmp_path / "once.duckdb")
    try:
        _append(once, s)
        _append(once, late)
        once.rollup(START + 5 * HOUR_MS)
        want = {t: _table(once, t) for t in ("rollup_1m", "rollup_1h")}
    finally:
        once.close()
    for t, tables in got.items():
        _assert_same(tables, want[t])
    assert got["rollup_1h"][START, 1][1] == 5_000.0
    merged = {k: np.concatenate([s[k], late[k]]) for k in s}
    _assert_same(got["rollup_1m"], _reference(merged, MINUTE_MS, START + 5 * HOUR_MS))


def _good_in(s: dict[str, np.ndarray], tag: int, lo: float, hi: float) -> np.ndarray:
    ts = s["ts"] / 1000.0
    sel = (s["tag"] == tag) & (ts >= lo) & (ts < hi) & (s["quality"] > 0) & ~np.isnan(s["value"])
    return s["value"][sel]


def test_long_trend_uses_rollups_and_keeps_spikes(store: HistoryStore) -> None:
    s = _series(3, hours=48.0, step_ms=10_000)
    spikes = np.flatnonzero((s["tag"] == 1) & (s["quality"] == 2))[::500][:12]
    s["value"][spikes] = 1_000.0 + np.arange(len(spikes))
    _append(store, s)
    store.rollup(START + 40 * HOUR_MS)  # the last 8 h+ are raw only
    r = HistoryReader(store)
    lo, hi = START / 1000, (START + 49 * HOUR_MS) / 1000
    for buckets in (49, 49 * 60):  # aligned: 1 h and 1 min buckets match the raw scan exactly
        fast = r.trend(["T1", "T2"], lo, hi, buckets)
        slow = r.trend(["T1", "T2"], lo, hi, buckets, use_rollups=False)
        for tag in ("T1", "T2"):
            f, w = fast[tag], slow[tag]
            np.testing.assert_array_equal(f.bucket_start, w.bucket_start)
            for field in ("min", "max", "first", "last"):
                np.testing.assert_array_equal(getattr(f, field), getattr(w, field))
            np.testing.assert_allclose(f.avg, w.avg, rtol=1e-12)
    ulo, uhi = lo + 1_234.5, hi - 4_321.25  # unaligned: bucket contents are still exact
    for buckets in (7, 100, 2_000):
        t = r.trend(["T1"], ulo, uhi, buckets)["T1"]
        assert 0 < len(t) <= buckets
        assert t.bucket_start[0] >= ulo
        assert np.all(np.diff(t.bucket_start) > 0)
        edges = [*t.bucket_start[1:], uhi]
        for i, (b0, b1) in enumerate(zip(t.bucket_start, edges, strict=True)):
            v = _good_in(s, 1, b0, b1)
            if len(v):  # an empty span between buckets holds no samples
                assert (t.min[i], t.max[i]) == (v.min(), v.max()), (buckets, i)
                assert t.avg[i] == pytest.approx(v.mean(), rel=1e-9)
        inside = [k for k in spikes if ulo <= s["ts"][k] / 1000 < uhi]
        assert len(inside) >= 8
        where = {
            k: np.searchsorted(t.bucket_start, s["ts"][k] / 1000, side="right") - 1 for k in inside
        }
        for k in inside:  # every spike is the max of its bucket (the largest one if it shares)
            same = [s["value"][j] for j in inside if where[j] == where[k]]
            assert t.max[where[k]] == max(same), (buckets, k)


def test_retention_deletes_only_rolled_up_rows(store: HistoryStore) -> None:
    s = _series(4, hours=10.0, step_ms=5_000)
    _append(store, s)
    r = HistoryReader(store)
    lo, hi = START / 1000, (START + 11 * HOUR_MS) / 1000
    assert store.retain(3600, START + 11 * HOUR_MS) == 0  # nothing rolled up: nothing deleted
    store.rollup(START + 6 * HOUR_MS)
    before = r.trend(["T1", "T2"], lo, hi, 11)
    late_ts = START + 4 * HOUR_MS + 30 * MINUTE_MS + 123
    store.append([("T2", late_ts, 42.0, 2)])  # late, not yet re-rolled: hour 4 on is kept
    n = store.row_count()
    deleted = store.retain(3600, START + 11 * HOUR_MS)
    assert deleted == int((s["ts"] < START + 4 * HOUR_MS).sum())
    assert store.row_count() == n - deleted
    assert [v for _, v, _ in r.raw("T2", late_ts / 1000, late_ts / 1000 + 0.001)] == [42.0]
    store.rollup(START + 6 * HOUR_MS)
    deleted2 = store.retain(3600, START + 11 * HOUR_MS)  # now up to the watermark (6 h)
    assert (
        deleted2
        == int(((s["ts"] >= START + 4 * HOUR_MS) & (s["ts"] < START + 6 * HOUR_MS)).sum()) + 1
    )
    assert store.retain(3600, START + 11 * HOUR_MS) == 0
    remaining = r.raw("T1", lo, hi)
    assert remaining[0][0] >= (START + 6 * HOUR_MS) / 1000  # raw above the watermark is kept
    assert len(remaining) == int(((s["tag"] == 1) & (s["ts"] >= START + 6 * HOUR_MS)).sum())
    after = r.trend(["T1", "T2"], lo, hi, 11)  # long-range trends still answer from rollups
    for tag in ("T1", "T2"):
        np.testing.assert_array_equal(after[tag].bucket_start, before[tag].bucket_start)
        np.testing.assert_array_equal(after[tag].min, before[tag].min)
        np.testing.assert_array_equal(after[tag].first, before[tag].first)
    np.testing.assert_array_equal(after["T1"].max, before["T1"].max)
    assert after["T2"].max[4] == max(before["T2"].max[4], 42.0)


def test_retention_drops_minute_rollups_and_old_trends_fall_back_to_hours(
    store: HistoryStore,
) -> None:
    s = _series(2, hours=10.0, step_ms=5_000)
    _append(store, s)
    store.rollup(START + 10 * HOUR_MS)
    store.compact(START + 20 * 24 * HOUR_MS)  # into the archive, as the service does daily
    r = HistoryReader(store)
    hourly = r.trend(["T1"], START / 1000, (START + 4 * HOUR_MS) / 1000, 4)["T1"]
    store.retain(3600, START + 7 * HOUR_MS)  # raw and minute rollups before 6 h go
    assert store.raw_floor() == START + 6 * HOUR_MS
    cur = store.cursor()
    try:
        oldest = {
            table: cur.execute(f"SELECT min(ts) FROM {table}").fetchone()[0]
            for table in ("raw", "rollup_1m", "rollup_1m_hold", "rollup_1h")
        }
    finally:
        cur.close()
    assert oldest["raw"] >= START + 6 * HOUR_MS
    assert oldest["rollup_1m"] >= START + 6 * HOUR_MS
    assert oldest["rollup_1m_hold"] >= START + 6 * HOUR_MS
    assert oldest["rollup_1h"] == START  # hourly rollups stay
    # 100 buckets of 2.4 min over the first 4 hours: served as hours from rollup_1h
    old = r.trend(["T1"], START / 1000, (START + 4 * HOUR_MS) / 1000, 100)["T1"]
    np.testing.assert_array_equal(old.bucket_start, hourly.bucket_start)
    np.testing.assert_array_equal(old.max, hourly.max)
    np.testing.assert_array_equal(old.min, hourly.min)


def test_a_long_catch_up_rolls_up_in_steps_with_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hmi.history import store as store_module

    s = _series(5, hours=7.5, step_ms=10_000)
    once = HistoryStore(tmp_path / "once.duckdb")
    try:
        _append(once, s)
        assert once.rollup(START + 8 * HOUR_MS) == (START, START + 8 * HOUR_MS)
        want = {t: _table(once, t) for t in ("rollup_1m", "rollup_1h")}
    finally:
        once.close()
    monkeypatch.setattr(store_module, "_CHUNK", 2 * HOUR_MS)
    steps: list[int] = []
    real = store_module.roll_up

    def counted(conn: Any, until_ms: int) -> Any:
        steps.append(until_ms)
        return real(conn, until_ms)

    monkeypatch.setattr(store_module, "roll_up", counted)
    stepped = HistoryStore(tmp_path / "stepped.duckdb")
    try:
        _append(stepped, s)
        assert stepped.rollup(START + 8 * HOUR_MS) == (START, START + 8 * HOUR_MS)
        got = {t: _table(stepped, t) for t in ("rollup_1m", "rollup_1h")}
    finally:
        stepped.close()
    assert steps == [START + h * HOUR_MS for h in (2, 4, 6, 8)]
    for t, tables in got.items():
        _assert_same(tables, want[t])

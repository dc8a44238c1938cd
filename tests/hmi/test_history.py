"""Tag history: round trip across reopen, the writer as a runtime subscriber, trend queries."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from drivers.base import Quality
from hmi.history.query import HistoryReader
from hmi.history.store import HistoryStore
from hmi.history.writer import HistoryWriter
from hmi.tags import DataType, TagDef, Value

T0 = 1_700_000_000.0  # epoch seconds


@pytest.fixture
def store(tmp_path: Path):
    s = HistoryStore(tmp_path / "history.duckdb")
    yield s
    s.close()


def test_round_trip_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "h.duckdb"
    rows = [
        ("Tank.Level", 1_700_000_000_123, 12.345678901234, 2),
        ("Tank.Level", 1_700_000_000_124, -0.5, 1),
        ("Tank.Level", 1_700_000_000_125, None, 0),
        ("Pump.Run", 1_700_000_000_200, 1.0, 2),
        ("Pump.Run", 1_700_000_000_201, 0.0, 2),
    ]
    s = HistoryStore(path)
    assert s.append(rows) == 5
    s.close()
    s = HistoryStore(path)
    try:
        r = HistoryReader(s)
        level = r.raw("Tank.Level", T0, T0 + 1)
        assert level == [
            (1_700_000_000.123, 12.345678901234, Quality.GOOD),
            (1_700_000_000.124, -0.5, Quality.UNCERTAIN),
            (1_700_000_000.125, None, Quality.BAD),
        ]
        assert all(isinstance(q, Quality) for _, _, q in level)
        assert [v for _, v, _ in r.raw("Pump.Run", T0, T0 + 1)] == [1.0, 0.0]
        assert r.raw("Unknown", T0, T0 + 1) == []
        # ids survive the reopen: a new tag gets a fresh id, old ones keep theirs
        ids = s.tag_ids(["Tank.Level", "New"])
        assert ids["New"] not in {s.known_id("Tank.Level"), s.known_id("Pump.Run")}
        assert s.row_count() == 5
    finally:
        s.close()


def test_last_before(store: HistoryStore) -> None:
    store.append([("A", 1000, 1.0, 2), ("A", 2000, 2.0, 0), ("A", 3000, 3.0, 2)])
    r = HistoryReader(store)
    assert r.last_before("A", 0.5) is None
    assert r.last_before("A", 2.0) == (1.0, 1.0, Quality.GOOD)
    assert r.last_before("A", 2.5) == (2.0, 2.0, Quality.BAD)
    assert r.last_before("A", 99.0) == (3.0, 3.0, Quality.GOOD)
    assert r.last_before("B", 99.0) is None


def test_trend_shows_every_spike_at_every_zoom(store: HistoryStore) -> None:
    n = 100_000  # one sample per second
    start_ms = int(T0 * 1000)
    ts = start_ms + np.arange(n, dtype=np.int64) * 1000
    rng = np.random.default_rng(1)
    values = rng.uniform(-1.0, 1.0, n)
    quality = np.full(n, 2, dtype=np.uint8)
    spikes = [17, 4_321, 50_000, 77_777, 99_999]
    values[spikes] = [100.0 + i for i in range(len(spikes))]
    dips = [999, 66_666]
    values[dips] = [-100.0, -101.0]
    bad = [10, 20_000, 88_888]
    values[bad] = 1e6  # bad values must never show
    quality[bad] = 0
    (tid,) = store.tag_ids(["P"]).values()
    store.append_arrays(ts, np.full(n, tid), values, quality)
    r = HistoryReader(store)
    end = T0 + n
    for buckets in (1, 7, 100, 1_000, 2_000, 99_999, 200_000):
        t = r.trend(["P"], T0, end, buckets)["P"]
        assert 0 < len(t) <= buckets
        assert np.all(np.diff(t.bucket_start) > 0)
        assert t.max.max() < 1e6
        bucket_of = {
            i: int(np.searchsorted(t.bucket_start, ts[i] / 1000.0, side="right")) - 1
            for i in spikes + dips
        }
        for i in spikes:  # the bucket max is the largest spike in that bucket
            same = [values[j] for j in spikes if bucket_of[j] == bucket_of[i]]
            assert t.max[bucket_of[i]] == max(same), (buckets, i)
        for i in dips:
            same = [values[j] for j in dips if bucket_of[j] == bucket_of[i]]
            assert t.min[bucket_of[i]] == min(same), (buckets, i)
    fine = r.trend(["P"], T0, end, n)["P"]  # one bucket per sample: every spike is its own max
    assert len(fine) == n - len(bad)
    assert sorted(fine.max[fine.max >= 100.0]) == sorted(values[spikes])
    one = r.trend(["P"], T0, end, 1)["P"]
    good = quality > 0
    assert one.first[0] == values[0]
    assert one.last[0] == values[-1]
    assert one.avg[0] == pytest.approx(values[good].mean())
    # a zoomed window: only its own samples, and unknown tags give empty trends
    zoom = r.trend(["P", "nope"], T0 + 50_000 - 30, T0 + 50_000 + 30, 10)
    assert zoom["P"].max.max() == values[50_000]
    assert len(zoom["P"]) == 10
    assert len(zoom["nope"]) == 0


def _tags() -> dict[str, TagDef]:
    return {
        "Flow": TagDef("Flow"),
        "Run": TagDef("Run", type=DataType.BOOL),
        "Text": TagDef("Text", type=DataType.STRING),
        "NoHist": TagDef("NoHist", history=False),
    }


def test_writer_as_runtime_subscriber(store: HistoryStore) -> None:
    writer = HistoryWriter(store, _tags(), flush_interval=0.05, flush_rows=500)
    batches = 200
    per_batch = 10

    def feed() -> None:
        for b in range(batches):
            batch: list[tuple[str, Value]] = []
            for i in range(per_batch):
                t = T0 + (b * per_batch + i) / 1000.0
                batch.append(("Flow", Value(float(b * per_batch + i), Quality.GOOD, recv_ts=t)))
            batch.append(("Run", Value(b % 2 == 0, Quality.GOOD, source_ts=T0 + b, recv_ts=0.0)))
            batch.append(("Text", Value("x", Quality.GOOD, recv_ts=T0)))
            batch.append(("NoHist", Value(1.0, Quality.GOOD, recv_ts=T0)))
            writer.on_changes(batch)

    feeder = threading.Thread(target=feed, name="conduit-test-feeder")
    feeder.start()
    feeder.join(10)
    expected = batches * (per_batch + 1)
    try:
        assert writer.wait_written(expected, timeout=10), writer.written
    finally:
        writer.stop()
    assert writer.dropped == 0
    assert writer.errors == 0
    assert writer.queue_fill() == 0.0
    r = HistoryReader(store)
    flow = r.raw("Flow", T0, T0 + 10)
    assert [v for _, v, _ in flow] == [float(i) for i in range(batches * per_batch)]
    assert flow[5][0] == pytest.approx(T0 + 0.005, abs=1e-6)
    run = r.raw("Run", T0, T0 + batches)
    assert [v for _, v, _ in run] == [1.0 if b % 2 == 0 else 0.0 for b in range(batches)]
    assert run[3][0] == T0 + 3  # source_ts wins over recv_ts
    assert store.known_id("Text") is None
    assert store.known_id("NoHist") is None


def test_writer_drops_oldest_when_full(store: HistoryStore) -> None:
    # a long flush interval and high flush threshold: nothing is drained while we fill
    writer = HistoryWriter(store, _tags(), max_rows=100, flush_interval=60, flush_rows=10_000)
    try:
        for i in range(250):
            writer.on_changes([("Flow", Value(float(i), Quality.GOOD, recv_ts=T0 + i))])
            if i == 49:
                assert writer.queue_fill() == pytest.approx(0.5)
        assert writer.dropped == 150
        assert writer.queue_fill() == 1.0
    finally:
        writer.stop()  # flushes what is queued
    values = [v for _, v, _ in HistoryReader(store).raw("Flow", T0, T0 + 1000)]
    assert values == [float(i) for i in range(150, 250)]  # the newest were kept


def test_writer_keeps_bad_quality_without_value(store: HistoryStore) -> None:
    writer = HistoryWriter(store, _tags(), flush_interval=0.05)
    try:
        writer.on_changes([("Flow", Value.initial())])
        writer.on_changes([("Flow", Value(None, Quality.BAD, recv_ts=T0 + 1))])
        assert writer.wait_written(2, timeout=10)
    finally:
        writer.stop()
    r = HistoryReader(store)
    assert r.raw("Flow", T0, T0 + 2) == [(T0 + 1, None, Quality.BAD)]
    assert len(r.raw("Flow", 0, 1)) == 1  # the initial value (recv_ts 0)

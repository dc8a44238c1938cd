"""What the historian records of a tag: deadband, minimum interval, heartbeat."""

from __future__ import annotations

import time
from pathlib import Path

from drivers.base import Quality, Reason
from hmi.history.policy import RecordingPolicy
from hmi.history.query import HistoryReader
from hmi.history.service import HistoryService
from hmi.history_config import HistorySettings
from hmi.tags import DataType, TagDef, Value


def _v(value: object, ts: float, quality: Quality = Quality.GOOD) -> Value:
    reason = Reason.NONE if quality is Quality.GOOD else Reason.COMM_FAILURE
    return Value(value, quality, reason, source_ts=ts, recv_ts=ts)


def _recorded(out: list[tuple[str, Value]]) -> list[tuple[str, object, float | None]]:
    return [(name, v.value, v.source_ts) for name, v in out]


def test_history_deadband_drops_small_moves_and_keeps_quality_changes() -> None:
    tags = {"T": TagDef("T", history_deadband=0.5)}
    p = RecordingPolicy(tags, default_max_interval=600)
    out = []
    for t, value in enumerate([10.0, 10.3, 10.6, 10.9, 11.2]):
        out += p.admit([("T", _v(value, t))], now=t)
    assert _recorded(out) == [("T", 10.0, 0), ("T", 10.6, 2), ("T", 11.2, 4)]
    bad = p.admit([("T", _v(None, 5, Quality.BAD))], now=5)
    assert _recorded(bad) == [("T", None, 5)]
    assert _recorded(p.admit([("T", _v(11.2, 6))], now=6)) == [("T", 11.2, 6)]  # back to good


def test_the_tags_own_deadband_is_the_default() -> None:
    p = RecordingPolicy({"T": TagDef("T", deadband=1.0)}, default_max_interval=600)
    out = []
    for t, value in enumerate([0.0, 0.9, 1.1]):
        out += p.admit([("T", _v(value, t))], now=t)
    assert [v for _, v, _ in _recorded(out)] == [0.0, 1.1]


def test_min_interval_merges_changes_and_records_the_newest_later() -> None:
    p = RecordingPolicy({"T": TagDef("T", history_min_interval=5)}, default_max_interval=600)
    out = []
    for t in range(4):
        out += p.admit([("T", _v(float(t), t))], now=t)
    assert _recorded(out) == [("T", 0.0, 0)]
    assert p.due(4.9) == []
    assert _recorded(p.due(5.0)) == [("T", 3.0, 3)]
    assert p.due(6.0) == []
    # a quality change does not wait for the interval
    assert _recorded(p.admit([("T", _v(None, 7, Quality.BAD))], now=7)) == [("T", None, 7)]


def test_heartbeat_records_the_current_value_when_nothing_changed() -> None:
    tags = {"T": TagDef("T", deadband=0.5), "F": TagDef("F", history_max_interval=60)}
    p = RecordingPolicy(tags, default_max_interval=600)
    p.admit([("T", _v(20.0, 0)), ("F", _v(1.0, 0))], now=0)
    p.admit([("T", _v(20.4, 100))], now=100)  # within the deadband: not recorded
    assert _recorded(p.due(59)) == []
    assert _recorded(p.due(60)) == [("F", 1.0, 60)]  # the tag's own max_interval
    assert _recorded(p.due(120)) == [("F", 1.0, 120)]
    beats = _recorded(p.due(600))
    assert ("T", 20.4, 600) in beats  # the current value, stamped with the heartbeat time
    assert _recorded(p.due(601)) == []


def test_a_tag_never_seen_gets_no_heartbeat() -> None:
    p = RecordingPolicy({"T": TagDef("T")}, default_max_interval=10)
    assert p.due(1_000) == []


def test_text_tags_and_tags_without_history_are_not_recorded() -> None:
    tags = {
        "S": TagDef("S", type=DataType.STRING),
        "N": TagDef("N", history=False),
        "B": TagDef("B", type=DataType.BOOL, deadband=5),
    }
    p = RecordingPolicy(tags, default_max_interval=600)
    out = p.admit([("S", _v("x", 0)), ("N", _v(1.0, 0)), ("B", _v(False, 0))], now=0)
    out += p.admit([("B", _v(True, 1)), ("Other", _v(1.0, 1))], now=1)
    assert _recorded(out) == [("B", False, 0), ("B", True, 1)]
    assert "B" in p and "S" not in p and "N" not in p


def test_the_service_records_through_the_policy_with_heartbeats(tmp_path: Path) -> None:
    tags = {"T": TagDef("T", history_deadband=1.0, history_max_interval=60)}
    service = HistoryService(tmp_path / "h.duckdb", tags, HistorySettings(max_interval=600))
    service.start()
    try:
        t0 = time.time()
        service.on_changes([("T", _v(5.0, t0))])
        service.on_changes([("T", _v(5.5, t0 + 1))])  # within the deadband
        service.on_changes([("T", _v(7.0, t0 + 2))])
        service.record_due(t0 + 1000)  # a heartbeat: nothing recorded for 60 s
        writer = service.writer
        assert writer is not None
        writer.flush()
        assert writer.written == 3
        store = service.store
        assert store is not None
        rows = HistoryReader(store).raw("T", t0 - 1, t0 + 2000)
    finally:
        service.stop()
    assert [(round(ts - t0, 3), v) for ts, v, _ in rows] == [(0, 5.0), (2, 7.0), (1000, 7.0)]


def test_changes_before_the_start_are_recorded_once_it_starts(tmp_path: Path) -> None:
    """The station starts its runtime before history opens: nothing delivered meanwhile is lost,
    and it is written before what comes after the start."""
    tags = {"T": TagDef("T", history_deadband=0.0)}
    service = HistoryService(tmp_path / "h.duckdb", tags, HistorySettings(max_interval=600))
    t0 = time.time()
    service.on_changes([("T", _v(1.0, t0))])
    service.on_changes([("T", _v(2.0, t0 + 1))])
    service.start()
    try:
        service.on_changes([("T", _v(3.0, t0 + 2))])
        writer = service.writer
        assert writer is not None
        writer.flush()
        store = service.store
        assert store is not None
        rows = HistoryReader(store).raw("T", t0 - 1, t0 + 10)
    finally:
        service.stop()
    assert [v for _, v, _ in rows] == [1.0, 2.0, 3.0]


def test_what_waits_for_the_start_is_bounded_like_the_queue(tmp_path: Path) -> None:
    tags = {"T": TagDef("T", history_deadband=0.0)}
    service = HistoryService(tmp_path / "h.duckdb", tags, HistorySettings(), max_rows=3)
    t0 = time.time()
    for i in range(10):
        service.on_changes([("T", _v(float(i), t0 + i))])
    assert sum(len(batch) for batch in service._early) == 3

"""History compaction: whole days move from the live table to the sorted archive, losslessly."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import numpy as np
import pytest

from hmi.history import store as store_module
from hmi.history.query import HistoryReader
from hmi.history.store import DAY_MS, HistoryStore

DAY0 = 1_700_006_400_000  # a UTC midnight, epoch ms
assert DAY0 % DAY_MS == 0


def _three_days(store: HistoryStore, tags: int = 5, step_ms: int = 60_000) -> int:
    """Append `tags` tags every `step_ms` over three UTC days, in time order; rows added."""
    names = [f"T{i}" for i in range(tags)]
    ids = store.tag_ids(names)
    ts = np.arange(DAY0, DAY0 + 3 * DAY_MS, step_ms, dtype=np.int64)
    n = 0
    for chunk in np.array_split(ts, 12):  # several batches, like the writer's
        t = np.repeat(chunk, tags)
        tid = np.tile([ids[name] for name in names], len(chunk))
        values = (t % 997) / 10 + tid
        n += store.append_arrays(t, tid, values, np.full(len(t), 2))
    return n


def _all_rows(store: HistoryStore, table: str = "raw") -> list[tuple[int, int, float, int]]:
    cur = store.cursor()
    try:
        rows = cur.execute(f"SELECT * FROM {table} ORDER BY tag_id, ts").fetchall()
    finally:
        cur.close()
    return [(int(a), int(b), float(c), int(d)) for a, b, c, d in rows]


def _count(store: HistoryStore, table: str) -> int:
    cur = store.cursor()
    try:
        found = cur.execute(f"SELECT count(*) FROM {table}").fetchone()
    finally:
        cur.close()
    return int(found[0]) if found else 0


@pytest.fixture
def store(tmp_path: Path):
    s = HistoryStore(tmp_path / "history.duckdb")
    yield s
    s.close()


def test_compact_moves_whole_past_days_sorted_and_loses_nothing(store: HistoryStore) -> None:
    total = _three_days(store)
    before = _all_rows(store)
    reader = HistoryReader(store)
    trend_before = reader.trend(["T1", "T3"], DAY0 / 1000, (DAY0 + 3 * DAY_MS) / 1000, 500)

    moved = store.compact(DAY0 + 2 * DAY_MS + 5 * 3_600_000)  # during day 3

    assert moved == total * 2 // 3
    assert _count(store, "raw_archive") == moved
    assert _count(store, "raw_live") == total - moved
    cur = store.cursor()
    try:
        live_min = cur.execute("SELECT min(ts) FROM raw_live").fetchone()
        archive_order = cur.execute("SELECT tag_id, ts FROM raw_archive").fetchall()
    finally:
        cur.close()
    assert live_min is not None and live_min[0] == DAY0 + 2 * DAY_MS
    assert archive_order == sorted(archive_order)  # stored by tag, then time
    assert _all_rows(store) == before
    trend_after = reader.trend(["T1", "T3"], DAY0 / 1000, (DAY0 + 3 * DAY_MS) / 1000, 500)
    for tag in ("T1", "T3"):
        for field in ("bucket_start", "min", "max", "first", "last", "avg"):
            np.testing.assert_array_equal(
                getattr(trend_after[tag], field), getattr(trend_before[tag], field)
            )
    assert store.compact(DAY0 + 2 * DAY_MS + 6 * 3_600_000) == 0  # nothing left to move


def test_compact_in_passes_keeps_tag_order(
    store: HistoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "COMPACT_PASS_ROWS", 1_000)  # ~1 tag-day per pass
    _three_days(store, tags=7)
    before = _all_rows(store)
    store.compact(DAY0 + 3 * DAY_MS)
    cur = store.cursor()
    try:
        archive_order = cur.execute("SELECT tag_id, ts FROM raw_archive").fetchall()
    finally:
        cur.close()
    assert len(archive_order) == len(before)
    assert archive_order == sorted(archive_order)
    assert _all_rows(store) == before


def test_late_rows_for_an_archived_day_are_seen_once_and_archived_later(
    store: HistoryStore,
) -> None:
    _three_days(store, tags=2)
    store.compact(DAY0 + 2 * DAY_MS)
    late = ("T0", DAY0 + 30_000, 42.5, 2)  # day 1, between two archived samples
    store.append([late])
    reader = HistoryReader(store)
    seen = reader.raw("T0", DAY0 / 1000, (DAY0 + 61_000) / 1000)
    assert [ts for ts, _, _ in seen] == [
        DAY0 / 1000,
        (DAY0 + 30_000) / 1000,
        (DAY0 + 60_000) / 1000,
    ]
    assert seen[1][1] == 42.5
    assert store.compact(DAY0 + 2 * DAY_MS) == 1
    assert reader.raw("T0", DAY0 / 1000, (DAY0 + 61_000) / 1000) == seen


def test_appends_during_compaction_are_kept_exactly_once(store: HistoryStore) -> None:
    total = _three_days(store, tags=20, step_ms=10_000)
    ids = store.tag_ids(["Live"])
    stop = threading.Event()
    appended: list[int] = []

    def append_today() -> None:
        k = 0
        while not stop.is_set():
            ts = DAY0 + 3 * DAY_MS + k * 1000
            store.append_arrays([ts], [ids["Live"]], [float(k)], [2])
            appended.append(ts)
            k += 1

    writer = threading.Thread(target=append_today)
    writer.start()
    try:
        moved = store.compact(DAY0 + 3 * DAY_MS)
    finally:
        stop.set()
        writer.join(10)
    assert moved == total
    assert _count(store, "raw") == total + len(appended)
    cur = store.cursor()
    try:
        live = cur.execute(
            "SELECT ts FROM raw WHERE tag_id = ? ORDER BY ts", [ids["Live"]]
        ).fetchall()
    finally:
        cur.close()
    assert [int(r[0]) for r in live] == appended


def test_a_file_with_the_single_raw_table_opens_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    conn = duckdb.connect(str(path))
    conn.execute("CREATE TABLE tags (tag_id UINTEGER PRIMARY KEY, name VARCHAR NOT NULL UNIQUE)")
    conn.execute(
        "CREATE TABLE raw (ts BIGINT NOT NULL, tag_id UINTEGER NOT NULL, value DOUBLE,"
        " quality UTINYINT NOT NULL)"
    )
    conn.execute("INSERT INTO tags VALUES (1, 'A')")
    conn.execute("INSERT INTO raw VALUES (1000, 1, 1.5, 2), (2000, 1, 2.5, 2)")
    conn.close()
    s = HistoryStore(path)
    try:
        assert [v for _, v, _ in HistoryReader(s).raw("A", 0, 10)] == [1.5, 2.5]
        s.append([("A", 3000, 3.5, 2)])
        assert s.row_count() == 3
    finally:
        s.close()

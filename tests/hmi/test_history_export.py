"""History export: Parquet, CSV and Excel files read back equal the stored samples and buckets."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook

from hmi.history import export as export_module
from hmi.history.export import RAW_COLUMNS, TREND_COLUMNS, export_history, iso_times
from hmi.history.query import HistoryReader
from hmi.history.store import HistoryStore

BERLIN = ZoneInfo("Europe/Berlin")
DST_START = 1_711_846_800_000  # 2024-03-31 01:00 UTC: Berlin goes from +01:00 to +02:00
FORMATS = ("parquet", "csv", "xlsx")

Row = dict[str, Any]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[HistoryStore]:
    s = HistoryStore(tmp_path / "history.duckdb")
    yield s
    s.close()


@pytest.fixture
def filled(store: HistoryStore) -> HistoryStore:
    """Two tags across the spring DST change, with uncertain, bad and value-less rows."""
    rows: list[tuple[str, int, float | None, int]] = []
    for i in range(120):
        ts = DST_START - 60_000 + i * 1_000 + 123
        quality = 0 if i % 17 == 5 else (1 if i % 11 == 3 else 2)
        value = None if i % 23 == 7 else 20.0 + 0.1 * i + 1e-9 * i
        rows.append(("Tank.Level", ts, value, quality))
        if i % 3 == 0:
            rows.append(("Pump [1]/Run", ts + 500, float(i % 2), 0 if i == 30 else 2))
    rows.append(("Other", DST_START, 1.0, 2))  # not exported
    store.append(rows)
    return store


TAGS = ["Tank.Level", "Pump [1]/Run"]
START = (DST_START - 120_000) / 1000
END = (DST_START + 120_000) / 1000


def expected_raw(store: HistoryStore, tags: list[str]) -> list[Row]:
    """The stored samples, as export rows in time order (ties by tag)."""
    reader = HistoryReader(store)
    rows = []
    for tag in tags:
        for ts, value, quality in reader.raw(tag, START, END):
            ms = round(ts * 1000)
            rows.append(
                {
                    "time": datetime.fromtimestamp(ms / 1000, BERLIN).isoformat(
                        timespec="milliseconds"
                    ),
                    "ts_ms": ms,
                    "tag": tag,
                    "value": value,
                    "quality": quality.name,
                }
            )
    rows.sort(key=lambda r: (r["ts_ms"], r["tag"]))
    return rows


def expected_trend(store: HistoryStore, tags: list[str], buckets: int) -> list[Row]:
    trends = HistoryReader(store).trend(tags, START, END, buckets)
    rows = []
    for tag in tags:
        t = trends[tag]
        for i in range(len(t)):
            ms = round(float(t.bucket_start[i]) * 1000)
            rows.append(
                {
                    "time": datetime.fromtimestamp(ms / 1000, BERLIN).isoformat(
                        timespec="milliseconds"
                    ),
                    "ts_ms": ms,
                    "tag": tag,
                    "min": float(t.min[i]),
                    "max": float(t.max[i]),
                    "first": float(t.first[i]),
                    "last": float(t.last[i]),
                    "avg": float(t.avg[i]),
                }
            )
    return rows


def excel(rows: list[Row]) -> list[Row]:
    """Rows as an Excel file holds them: openpyxl writes floats with 16 significant digits."""
    return [
        {k: pytest.approx(v, rel=1e-15) if isinstance(v, float) else v for k, v in r.items()}
        for r in rows
    ]


def _number(text: str) -> float | None:
    return None if text == "" else float(text)


def read_back(path: Path, fmt: str, columns: tuple[str, ...]) -> list[Row]:
    """Rows of an exported file, typed like the export rows."""
    if fmt == "parquet":
        table = pq.read_table(path)
        assert table.column_names == list(columns)
        return list(table.to_pylist())
    if fmt == "csv":
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            assert tuple(reader.fieldnames or ()) == columns
            return [
                {
                    k: int(v)
                    if k == "ts_ms"
                    else v
                    if k in ("time", "tag", "quality")
                    else _number(v)
                    for k, v in row.items()
                }
                for row in reader
            ]
    book = load_workbook(path, read_only=True)
    try:
        rows: list[Row] = []
        for sheet in book.worksheets:
            values = list(sheet.iter_rows(values_only=True))
            assert values[0] == columns, sheet.title
            rows.extend(dict(zip(columns, r, strict=True)) for r in values[1:])
        return rows
    finally:
        book.close()


@pytest.mark.parametrize("fmt", FORMATS)
def test_raw_export_equals_stored_samples(filled: HistoryStore, tmp_path: Path, fmt: str) -> None:
    dest = tmp_path / f"raw.{fmt}"
    n = export_history(filled, TAGS, START, END, dest, tz=BERLIN)
    want = expected_raw(filled, TAGS)
    assert n == len(want) == 120 + 40
    got = read_back(dest, fmt, RAW_COLUMNS)
    if fmt == "xlsx":  # one sheet per tag, each in time order
        want = excel(sorted(want, key=lambda r: (r["tag"], r["ts_ms"])))
    assert got == want
    # bad-quality rows are kept, with their quality name and (absent) value
    bad = [r for r in got if r["quality"] == "BAD"]
    assert bad and any(r["value"] is None for r in got)
    assert {r["quality"] for r in got} == {"GOOD", "UNCERTAIN", "BAD"}
    # the offset follows daylight saving time
    offsets = {r["time"][-6:] for r in got}
    assert offsets == {"+01:00", "+02:00"}
    assert not list(tmp_path.glob(".*partial"))


def test_xlsx_has_a_sheet_per_tag_with_valid_names(filled: HistoryStore, tmp_path: Path) -> None:
    dest = tmp_path / "raw.xlsx"
    export_history(filled, TAGS, START, END, dest)
    book = load_workbook(dest, read_only=True)
    try:
        assert book.sheetnames == ["Pump _1__Run", "Tank.Level"]
    finally:
        book.close()


def test_xlsx_splits_a_tag_over_sheets_at_the_row_limit(
    filled: HistoryStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export_module, "EXCEL_MAX_ROWS", 51)  # 50 data rows under the header
    dest = tmp_path / "raw.xlsx"
    assert export_history(filled, TAGS, START, END, dest, tz=BERLIN) == 160
    book = load_workbook(dest, read_only=True)
    try:
        sizes = {s.title: sum(1 for _ in s.iter_rows()) for s in book.worksheets}
    finally:
        book.close()
    assert sizes == {
        "Pump _1__Run": 41,
        "Tank.Level": 51,
        "Tank.Level (2)": 51,
        "Tank.Level (3)": 21,
    }
    got = read_back(dest, "xlsx", RAW_COLUMNS)
    assert got == excel(sorted(expected_raw(filled, TAGS), key=lambda r: (r["tag"], r["ts_ms"])))


@pytest.mark.parametrize("fmt", FORMATS)
def test_trend_export_equals_trend_buckets(filled: HistoryStore, tmp_path: Path, fmt: str) -> None:
    dest = tmp_path / f"trend.{fmt}"
    n = export_history(filled, TAGS, START, END, dest, buckets=7, tz=BERLIN)
    want = expected_trend(filled, TAGS, 7)
    assert n == len(want) > 7
    assert read_back(dest, fmt, TREND_COLUMNS) == (excel(want) if fmt == "xlsx" else want)


@pytest.mark.parametrize("fmt", FORMATS)
def test_nothing_to_export_gives_a_valid_empty_file(
    store: HistoryStore, tmp_path: Path, fmt: str
) -> None:
    dest = tmp_path / f"empty.{fmt}"
    assert export_history(store, ["Nope"], START, END, dest) == 0
    assert read_back(dest, fmt, RAW_COLUMNS) == []


def test_large_range_streams_in_batches(store: HistoryStore, tmp_path: Path) -> None:
    n = 3 * 65_536 + 17  # more than one Arrow batch
    ids = store.tag_ids(["A", "B"])
    i = np.arange(n)
    store.append_arrays(
        1_700_000_000_000 + i * 10, np.where(i % 2, ids["A"], ids["B"]), i * 0.5, np.full(n, 2)
    )
    dest = tmp_path / "big.parquet"
    assert export_history(store, ["A", "B"], 0, 2e9, dest, tz=UTC) == n
    meta = pq.ParquetFile(dest).metadata
    assert meta.num_rows == n and meta.num_row_groups > 1
    table = pq.read_table(dest)
    assert table.column("ts_ms").to_pylist() == (1_700_000_000_000 + i * 10).tolist()
    assert table.column("value").to_pylist() == (i * 0.5).tolist()
    assert table.column("time")[0].as_py() == "2023-11-14T22:13:20.000+00:00"
    dest_csv = tmp_path / "big.csv"
    assert export_history(store, ["A"], 0, 2e9, dest_csv) == n // 2
    with dest_csv.open(newline="") as f:
        assert sum(1 for _ in csv.reader(f)) == n // 2 + 1


def test_iso_times_default_to_the_local_zone() -> None:
    ts = np.array([0, 1_700_000_000_123, DST_START - 1, DST_START], dtype=np.int64)
    want = [
        datetime.fromtimestamp(t / 1000, UTC).astimezone().isoformat(timespec="milliseconds")
        for t in ts.tolist()
    ]
    assert iso_times(ts).to_pylist() == want


def test_bad_format_is_refused(store: HistoryStore, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.parquet, \.csv or \.xlsx"):
        export_history(store, ["A"], 0, 1, tmp_path / "out.txt")
    with pytest.raises(ValueError, match="unknown export format"):
        export_history(store, ["A"], 0, 1, tmp_path / "out.txt", fmt="json")  # type: ignore[arg-type]
    assert not list(tmp_path.glob("out*")) and not list(tmp_path.glob(".out*"))

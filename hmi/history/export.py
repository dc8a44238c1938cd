"""Export of stored history to Parquet, CSV or Excel: raw samples or trend buckets.

Raw samples have the columns `time` (ISO 8601 with the local zone's offset at that instant),
`ts_ms` (epoch ms), `tag`, `value` (empty for no value) and `quality` (GOOD, UNCERTAIN, BAD);
bad-quality rows are kept. Trend buckets (`buckets=N`, from `HistoryReader.trend`) have `time`,
`ts_ms` (bucket start), `tag`, `min`, `max`, `first`, `last`, `avg` of the good values.

Raw rows are read from one DuckDB snapshot in Arrow batches and written batch by batch, so a
long range never becomes one Python list. Parquet and CSV hold all tags in time order. An
Excel workbook has one sheet per tag; a tag with more rows than a sheet holds (1,048,575 under
the header) continues on sheets named `<tag> (2)`, `<tag> (3)`, ...; openpyxl writes numbers
with 16 significant digits (Excel shows 15), Parquet and CSV keep every bit. The file is written
under a temporary name and renamed when complete. This module only reads the history.
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator, Iterator, Sequence
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from drivers.base import Quality
from hmi.history.query import HistoryReader, to_ms
from hmi.history.store import HistoryStore

__all__ = [
    "EXCEL_MAX_ROWS",
    "FORMATS",
    "RAW_COLUMNS",
    "TREND_COLUMNS",
    "export_history",
    "iso_times",
]

Format = Literal["parquet", "csv", "xlsx"]
FORMATS: tuple[Format, ...] = ("parquet", "csv", "xlsx")
EXCEL_MAX_ROWS = 1_048_576  # rows of an Excel sheet, header included
RAW_COLUMNS = ("time", "ts_ms", "tag", "value", "quality")
TREND_COLUMNS = ("time", "ts_ms", "tag", "min", "max", "first", "last", "avg")
_BATCH_ROWS = 65_536
_QUALITY_NAMES = np.array([q.name for q in sorted(Quality)], dtype=object)

RAW_SCHEMA = pa.schema(
    [
        ("time", pa.string()),
        ("ts_ms", pa.int64()),
        ("tag", pa.string()),
        ("value", pa.float64()),
        ("quality", pa.string()),
    ]
)
TREND_SCHEMA = pa.schema(
    [
        ("time", pa.string()),
        ("ts_ms", pa.int64()),
        ("tag", pa.string()),
        *((name, pa.float64()) for name in TREND_COLUMNS[3:]),
    ]
)


def export_history(
    source: HistoryStore | HistoryReader,
    tags: Sequence[str],
    start: float,
    end: float,
    dest: Path,
    *,
    fmt: Format | None = None,
    buckets: int | None = None,
    tz: tzinfo | None = None,
) -> int:
    """Write the history of `tags` over start <= t < end (epoch s) to `dest`; rows written.

    Raw samples, or with `buckets` at most that many trend buckets per tag. `fmt` defaults to
    the suffix of `dest`. Times are shown in `tz` (default: the computer's local zone).
    """
    dest = Path(dest)
    if fmt is None:
        fmt = _format_of(dest)
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (expected one of {', '.join(FORMATS)})")
    reader = source if isinstance(source, HistoryReader) else HistoryReader(source)
    tmp = dest.with_name(f".{dest.name}.partial")
    order_by_tag = fmt == "xlsx"
    if buckets is not None:
        schema = TREND_SCHEMA
        batches = _trend_batches(reader, tags, (start, end), buckets, tz=tz)
    else:
        schema = RAW_SCHEMA
        batches = _raw_batches(reader.store, tags, start, end, tz, by_tag=order_by_tag)
    writer = {"parquet": _write_parquet, "csv": _write_csv, "xlsx": _write_xlsx}[fmt]
    try:
        rows = writer(tmp, schema, batches)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        batches.close()  # ends the read transaction even when writing failed
    return rows


def _format_of(dest: Path) -> Format:
    suffix = dest.suffix.lower().lstrip(".")
    for fmt in FORMATS:
        if suffix == fmt:
            return fmt
    raise ValueError(
        f"cannot tell the export format from {dest.name!r}: name it .parquet, .csv or .xlsx, "
        "or pass fmt"
    )


# ---- reading -------------------------------------------------------------------------------


def _raw_batches(
    store: HistoryStore,
    tags: Sequence[str],
    start: float,
    end: float,
    tz: tzinfo | None,
    *,
    by_tag: bool,
) -> Generator[pa.RecordBatch]:
    """Raw rows of the known `tags` in the range, as batches with the raw export schema."""
    ids = [tid for tag in dict.fromkeys(tags) if (tid := store.known_id(tag)) is not None]
    if not ids:
        return
    order = "t.name, r.ts" if by_tag else "r.ts, t.name"
    cur = store.cursor()
    try:
        reader = cur.sql(
            "SELECT r.ts, t.name AS tag, r.value, r.quality FROM raw r"
            " JOIN tags t ON t.tag_id = r.tag_id"
            " WHERE list_contains($ids, r.tag_id) AND r.ts >= $start AND r.ts < $end"
            f" ORDER BY {order}",
            params={"ids": ids, "start": to_ms(start), "end": to_ms(end)},
        ).to_arrow_reader(_BATCH_ROWS)
        for batch in reader:
            if batch.num_rows == 0:
                continue
            ts = batch.column("ts").to_numpy(zero_copy_only=False).astype(np.int64)
            quality = batch.column("quality").to_numpy(zero_copy_only=False).astype(np.intp)
            yield pa.record_batch(
                [
                    iso_times(ts, tz),
                    pa.array(ts, pa.int64()),
                    batch.column("tag").cast(pa.string()),
                    batch.column("value").cast(pa.float64()),
                    pa.array(_QUALITY_NAMES[quality], pa.string()),
                ],
                schema=RAW_SCHEMA,
            )
    finally:
        cur.close()


def _trend_batches(
    reader: HistoryReader,
    tags: Sequence[str],
    span: tuple[float, float],
    buckets: int,
    *,
    tz: tzinfo | None,
) -> Generator[pa.RecordBatch]:
    """Trend buckets of each tag (in the order given), one batch per tag."""
    unique = list(dict.fromkeys(tags))
    trends = reader.trend(unique, span[0], span[1], buckets)
    for tag in unique:
        trend = trends[tag]
        if len(trend) == 0:
            continue
        ts = np.rint(trend.bucket_start * 1000).astype(np.int64)
        yield pa.record_batch(
            [
                iso_times(ts, tz),
                pa.array(ts, pa.int64()),
                pa.array([tag] * len(trend), pa.string()),
                *(
                    pa.array(col, pa.float64())
                    for col in (trend.min, trend.max, trend.first, trend.last, trend.avg)
                ),
            ],
            schema=TREND_SCHEMA,
        )


def iso_times(ts_ms: npt.NDArray[np.int64], tz: tzinfo | None = None) -> pa.Array:
    """Epoch ms as ISO 8601 text with milliseconds and the UTC offset of `tz` (default local).

    The offset is looked up once per distinct minute, so daylight-saving changes are exact.
    """
    if len(ts_ms) == 0:
        return pa.array([], pa.string())
    minutes, inverse = np.unique(ts_ms // 60_000, return_inverse=True)
    offsets_s = np.array([_utc_offset_s(int(m) * 60, tz) for m in minutes], dtype=np.int64)
    row_offset = offsets_s[inverse.reshape(-1)]
    wall = pa.array(ts_ms + row_offset * 1000, pa.timestamp("ms"))
    text = pc.strftime(wall, format="%Y-%m-%dT%H:%M:%S")  # %S carries the milliseconds
    distinct, which = np.unique(row_offset, return_inverse=True)
    suffix = np.array([_offset_text(int(s)) for s in distinct], dtype=object)[which.reshape(-1)]
    joined = pc.binary_join_element_wise(text, pa.array(suffix, pa.string()), "")
    return joined.cast(pa.string())


def _utc_offset_s(epoch_s: int, tz: tzinfo | None) -> int:
    moment = datetime.fromtimestamp(epoch_s, UTC)
    offset = (moment.astimezone() if tz is None else moment.astimezone(tz)).utcoffset()
    return 0 if offset is None else int(offset.total_seconds())


def _offset_text(seconds: int) -> str:
    sign = "+" if seconds >= 0 else "-"
    hours, rest = divmod(abs(seconds), 3600)
    return f"{sign}{hours:02d}:{rest // 60:02d}"


# ---- writing -------------------------------------------------------------------------------


def _write_parquet(path: Path, schema: pa.Schema, batches: Iterator[pa.RecordBatch]) -> int:
    rows = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for batch in batches:
            writer.write_batch(batch)
            rows += batch.num_rows
    return rows


def _write_csv(path: Path, schema: pa.Schema, batches: Iterator[pa.RecordBatch]) -> int:
    rows = 0
    options = pacsv.WriteOptions(include_header=True, quoting_style="needed")
    with pacsv.CSVWriter(path, schema, write_options=options) as writer:
        for batch in batches:
            writer.write_batch(batch)
            rows += batch.num_rows
    return rows


def _write_xlsx(path: Path, schema: pa.Schema, batches: Iterator[pa.RecordBatch]) -> int:
    from openpyxl import Workbook  # only needed here

    book = Workbook(write_only=True)
    header = list(schema.names)
    sheets: dict[str, Any] = {}  # tag -> current sheet
    used: dict[str, int] = {}  # tag -> sheets so far
    filled: dict[str, int] = {}  # tag -> data rows on its current sheet
    taken = {"history"}  # a name Excel reserves
    rows = 0

    def sheet_for(tag: str) -> Any:
        if tag not in sheets or filled[tag] >= EXCEL_MAX_ROWS - 1:
            used[tag] = used.get(tag, 0) + 1
            title = _sheet_title(tag, used[tag], taken)
            taken.add(title.lower())
            sheets[tag] = book.create_sheet(title)
            sheets[tag].append(header)
            filled[tag] = 0
        return sheets[tag]

    for batch in batches:
        columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
        tag_col = batch.schema.names.index("tag")
        for row in zip(*columns, strict=True):
            tag = str(row[tag_col])
            sheet_for(tag).append(list(row))
            filled[tag] += 1
            rows += 1
    if not sheets:
        book.create_sheet("Export").append(header)
    book.save(path)
    return rows


_BAD_TITLE = re.compile(r"[\[\]:*?/\\]")
_TITLE_MAX = 31  # Excel's limit on sheet names


def _sheet_title(tag: str, part: int, taken: set[str]) -> str:
    """A valid, unique (case-insensitive) Excel sheet name for a tag's `part`-th sheet."""
    base = _BAD_TITLE.sub("_", tag).strip("'") or "tag"
    suffix = "" if part == 1 else f" ({part})"
    n = 1
    while True:
        extra = suffix if n == 1 else f"{suffix}~{n}"
        title = base[: _TITLE_MAX - len(extra)] + extra
        if title.lower() not in taken:
            return title
        n += 1

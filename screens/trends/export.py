"""Export what a trend shows: one table (time in local time, then the pens' columns) to xlsx or
CSV. Buckets give min/avg/max columns per pen, live samples one column per pen; a cell with no
good value stays empty."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from screens.i18n import tr
from screens.trends.pens import Pen

__all__ = [
    "ExportTable",
    "bucket_table",
    "sample_table",
    "visible_table",
    "write_csv",
    "write_xlsx",
]

FloatArray = npt.NDArray[np.float64]
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
XLSX_TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"


@dataclass(frozen=True, slots=True)
class ExportTable:
    """Headers, epoch-second times and one float column per header after the time."""

    headers: tuple[str, ...]
    times: FloatArray
    columns: tuple[FloatArray, ...]
    decimals: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.times)

    def rows(self) -> list[tuple[datetime, list[float | None]]]:
        """Each row: local time and its values (None where empty)."""
        out = []
        for i, ts in enumerate(self.times):
            values = [None if np.isnan(c[i]) else float(c[i]) for c in self.columns]
            out.append((datetime.fromtimestamp(float(ts)), values))
        return out


def _header(pen: Pen, what: str = "") -> str:
    name = f"{pen.name} {what}" if what else pen.name
    return f"{name} [{pen.unit}]" if pen.unit else name


def _spread(times: FloatArray, at: FloatArray, values: FloatArray) -> FloatArray:
    """`values` (stamped `at`) placed on the rows of `times` (a superset); NaN elsewhere."""
    out = np.full(len(times), np.nan)
    out[np.searchsorted(times, at)] = values
    return out


def bucket_table(pens: Sequence[Pen], lo: float, hi: float) -> ExportTable:
    """The pens' buckets that overlap [lo, hi]: min, avg, max per pen."""
    picked = []
    for pen in pens:
        b = pen.buckets
        if b is None:
            continue
        starts = b.trend.bucket_start
        sel = (b.ends() > lo) & (starts <= hi)
        picked.append((pen, starts[sel], b.trend.min[sel], b.trend.avg[sel], b.trend.max[sel]))
    times = np.unique(np.concatenate([p[1] for p in picked])) if picked else np.empty(0)
    headers: list[str] = [tr("Time")]
    columns: list[FloatArray] = []
    decimals: list[int] = []
    for pen, at, lows, avgs, highs in picked:
        for what, values in ((tr("min"), lows), (tr("avg"), avgs), (tr("max"), highs)):
            headers.append(_header(pen, what))
            columns.append(_spread(times, at, values))
            decimals.append(pen.decimals)
    return ExportTable(tuple(headers), times, tuple(columns), tuple(decimals))


def sample_table(pens: Sequence[Pen], lo: float, hi: float) -> ExportTable:
    """The pens' live samples in [lo, hi]: one column per pen (bad samples empty)."""
    picked = [(pen, *pen.live.between(lo, hi)) for pen in pens]
    times = np.unique(np.concatenate([p[1] for p in picked])) if picked else np.empty(0)
    headers = (tr("Time"), *(_header(pen) for pen, _, _ in picked))
    columns = tuple(_spread(times, at, values) for _, at, values in picked)
    return ExportTable(headers, times, columns, tuple(pen.decimals for pen, _, _ in picked))


def visible_table(pens: Sequence[Pen], lo: float, hi: float) -> ExportTable:
    """What the pens show in [lo, hi]: their buckets if any are there, else their samples."""
    has_buckets = any(
        p.buckets is not None
        and bool(np.any((p.buckets.ends() > lo) & (p.buckets.trend.bucket_start <= hi)))
        for p in pens
    )
    return bucket_table(pens, lo, hi) if has_buckets else sample_table(pens, lo, hi)


def write_csv(table: ExportTable, path: Path) -> None:
    """Write the table as UTF-8 CSV (with a BOM, so spreadsheet programs read the units)."""
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        out = csv.writer(f)
        out.writerow(table.headers)
        for ts, values in table.rows():
            cells = [
                "" if v is None else f"{v:.{d}f}"
                for v, d in zip(values, table.decimals, strict=True)
            ]
            out.writerow([ts.strftime(TIME_FORMAT), *cells])


def write_xlsx(table: ExportTable, path: Path, title: str = "") -> None:
    """Write the table to one sheet of an xlsx workbook (times as local date-times)."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook always has its first sheet
    sheet.title = (title or tr("Trend"))[:31]
    sheet.append(list(table.headers))
    for ts, values in table.rows():
        sheet.append([ts, *values])
    for row in sheet.iter_rows(min_row=2, min_col=1, max_col=1):
        row[0].number_format = XLSX_TIME_FORMAT
    for col, d in enumerate(table.decimals, start=2):
        fmt = "0" if d == 0 else "0." + "0" * d
        for cells in sheet.iter_rows(min_row=2, min_col=col, max_col=col):
            cells[0].number_format = fmt
    sheet.column_dimensions["A"].width = 20
    for col in range(2, len(table.headers) + 1):
        sheet.column_dimensions[get_column_letter(col)].width = 18
    sheet.freeze_panes = "B2"
    book.save(path)

"""A trend pen: its tag, colour, live samples, history buckets and the items that draw them.

The palette lives here for now (calm, distinguishable on the grey background, none of the
alarm priority colours), from `screens/theme.py` with the other colours.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PySide6.QtGui import QColor

from hmi.client import Trend
from hmi.tags import TagDef
from screens import theme
from screens.trends.ring import RingBuffer

__all__ = ["MAX_HOLD", "PALETTE", "Buckets", "Pen", "colour_for"]

FloatArray = npt.NDArray[np.float64]

PALETTE = theme.TREND_PENS
# No recorded sample for longer than this means no good value (the historian writes a heartbeat
# at least every hour, 10 min by default): the avg line breaks instead of bridging the gap.
MAX_HOLD = 15 * 60.0
ENVELOPE_ALPHA = 110


def colour_for(index: int) -> QColor:
    """The palette colour of the `index`-th pen (cycling)."""
    return QColor(PALETTE[index % len(PALETTE)])


@dataclass(frozen=True, slots=True)
class Buckets:
    """History buckets drawn for one pen: the answer to a request over [start, end)."""

    trend: Trend
    width: float  # seconds per bucket
    start: float
    end: float
    asked: int  # buckets asked for (the plot's pixel width then)

    @classmethod
    def of(cls, trend: Trend, start: float, end: float, asked: int) -> Buckets:
        """Buckets with their width inferred from the grid the historian used."""
        starts = trend.bucket_start
        width = (end - start) / max(1, asked)
        if len(starts) >= 3:
            # the first bucket may be clipped at `start`; the others sit on the grid
            width = float(np.min(np.diff(starts[1:])))
        return cls(trend, width, start, end, asked)

    def __len__(self) -> int:
        return len(self.trend)

    def ends(self) -> FloatArray:
        """Each bucket's end time."""
        starts = self.trend.bucket_start
        ends = starts + self.width
        if len(starts) > 1:
            ends[:-1] = np.minimum(ends[:-1], starts[1:])
        return ends

    def containing(self, ts: float) -> int | None:
        """The index of the bucket that holds `ts`, or None."""
        starts = self.trend.bucket_start
        i = int(np.searchsorted(starts, ts, side="right")) - 1
        if i < 0 or ts >= self.ends()[i]:
            return None
        return i

    def before(self, ts: float) -> int | None:
        """The index of the last bucket starting at or before `ts`, or None."""
        i = int(np.searchsorted(self.trend.bucket_start, ts, side="right")) - 1
        return None if i < 0 else i

    def centres(self) -> FloatArray:
        """The time each bucket is drawn at."""
        return (self.trend.bucket_start + self.ends()) / 2.0

    def envelope(self) -> tuple[FloatArray, FloatArray]:
        """x, y for vertical min-max segments (`connect="pairs"`)."""
        x = np.repeat(self.centres(), 2)
        y = np.column_stack([self.trend.min, self.trend.max]).ravel()
        return x, y

    def avg_line(self) -> tuple[FloatArray, FloatArray]:
        """x, y of the average line, with NaN where no value was recorded for too long."""
        x, y = self.centres(), self.trend.avg
        if len(x) < 2:
            return x, y
        gaps = np.flatnonzero(np.diff(x) > max(MAX_HOLD, 2.0 * self.width)) + 1
        if len(gaps) == 0:
            return x, y
        return np.insert(x, gaps, np.nan), np.insert(y, gaps, np.nan)


@dataclass(eq=False)
class Pen:
    """One tag drawn in the chart."""

    tag: TagDef
    colour: QColor
    live: RingBuffer = field(default_factory=RingBuffer)
    buckets: Buckets | None = None
    visible: bool = True
    dirty: bool = True  # live samples added since the curve was last drawn
    curve: pg.PlotDataItem = field(init=False)
    avg: pg.PlotDataItem = field(init=False)
    envelope: pg.PlotDataItem = field(init=False)

    def __post_init__(self) -> None:
        line = pg.mkPen(self.colour, width=1)  # 1 px: wider lines take the slow path
        self.curve = pg.PlotDataItem(pen=line, connect="finite")
        self.curve.setDownsampling(auto=True, method="peak")
        self.curve.setClipToView(True)
        self.avg = pg.PlotDataItem(pen=line, connect="finite")
        self.avg.setClipToView(True)
        band = QColor(self.colour)
        band.setAlpha(ENVELOPE_ALPHA)
        # not clipped: clipping could split a min-max pair
        self.envelope = pg.PlotDataItem(pen=pg.mkPen(band, width=1), connect="pairs")

    @property
    def name(self) -> str:
        """The tag name."""
        return self.tag.name

    @property
    def unit(self) -> str:
        """The tag's unit ("" when it has none)."""
        return self.tag.unit

    @property
    def decimals(self) -> int:
        """Decimals to show (the tag's, else 2)."""
        return 2 if self.tag.decimals is None else self.tag.decimals

    def items(self) -> tuple[pg.PlotDataItem, ...]:
        """Every graphics item of this pen, back to front."""
        return (self.envelope, self.avg, self.curve)

    def set_visible(self, visible: bool) -> None:
        """Show or hide every item of the pen."""
        self.visible = visible
        for item in self.items():
            item.setVisible(visible)

    def draw_live(self) -> None:
        """Give the live curve its samples (drawn over the history: the same values)."""
        self.curve.setData(self.live.times, self.live.values, connect="finite")
        self.dirty = False

    def draw_history(self) -> None:
        """Give the envelope and avg line the buckets held (or clear them)."""
        if self.buckets is None or len(self.buckets) == 0:
            self.envelope.setData([], [])
            self.avg.setData([], [])
            return
        self.envelope.setData(*self.buckets.envelope(), connect="pairs")
        self.avg.setData(*self.buckets.avg_line(), connect="finite")

    def format(self, value: float) -> str:
        """A number as this pen shows it (no unit)."""
        return f"{value:.{self.decimals}f}"

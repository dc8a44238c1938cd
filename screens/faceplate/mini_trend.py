"""The faceplate's one-hour mini trend: history buckets first, then live points appended.

One pen per tag in grey tones (ISA-101: colour is for alarms). A bad value leaves a gap (NaN),
never a plausible point. Points older than the window are dropped as live points arrive, and the
curves are redrawn only while the trend is visible.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QVBoxLayout, QWidget

from hmi.client import Trend
from hmi.tags import Quality, Value
from screens import theme

__all__ = ["WINDOW", "MiniTrend"]

WINDOW = 3600.0  # seconds shown
PENS = (theme.TEXT, theme.SYMBOL_LINE, theme.TEXT_DIM)


class MiniTrend(QWidget):
    """A small time plot of a few tags over the last hour."""

    def __init__(self, tags: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("miniTrend")
        self.tags = tuple(tags)
        self._x: dict[str, list[float]] = {t: [] for t in self.tags}
        self._y: dict[str, list[float]] = {t: [] for t in self.tags}
        self._last: dict[str, Value] = {}
        self._stale = False
        self.plot = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem()}, parent=self)
        self.plot.setBackground(theme.BACKGROUND)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).setPen(pg.mkPen(theme.TEXT_DIM))
            self.plot.getAxis(axis).setTextPen(pg.mkPen(theme.TEXT))
        self.curves = {
            tag: self.plot.plot(
                [], [], pen=pg.mkPen(PENS[i % len(PENS)], width=1.5), connect="finite"
            )
            for i, tag in enumerate(self.tags)
        }
        self.plot.setMinimumHeight(140)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)

    def load(self, trends: Mapping[str, Trend]) -> None:
        """Put the history in front of the live points received so far."""
        for tag in self.tags:
            trend = trends.get(tag)
            if trend is None or not len(trend):
                continue
            xs = [float(x) for x in trend.bucket_start]
            ys = [float(y) for y in trend.avg]
            first_live = self._x[tag][0] if self._x[tag] else math.inf
            keep = [i for i, x in enumerate(xs) if x < first_live]
            self._x[tag] = [xs[i] for i in keep] + self._x[tag]
            self._y[tag] = [ys[i] for i in keep] + self._y[tag]
        self._redraw()

    def append(self, changes: Mapping[str, Value]) -> None:
        """Add the live values of the trended tags (bad ones as gaps)."""
        touched = False
        for tag in self.tags:
            value = changes.get(tag)
            if value is None or value == self._last.get(tag):
                continue  # a full snapshot repeats values already drawn
            self._last[tag] = value
            ts = value.source_ts or value.recv_ts or time.time()
            good = value.quality is not Quality.BAD and isinstance(value.value, int | float)
            self._x[tag].append(float(ts))
            self._y[tag].append(float(value.value) if good else math.nan)
            touched = True
        if touched:
            self._trim()
            self._redraw()

    def points(self, tag: str) -> list[tuple[float, float]]:
        """The points held for a tag (time, value; NaN for a gap)."""
        return list(zip(self._x[tag], self._y[tag], strict=True))

    def _trim(self) -> None:
        start = time.time() - WINDOW
        for tag in self.tags:
            xs = self._x[tag]
            cut = next((i for i, x in enumerate(xs) if x >= start), len(xs))
            if cut:
                del xs[:cut]
                del self._y[tag][:cut]

    def _redraw(self) -> None:
        if not self.isVisible():
            self._stale = True
            return
        self._stale = False
        for tag, curve in self.curves.items():
            curve.setData(np.asarray(self._x[tag]), np.asarray(self._y[tag]))
        now = time.time()
        self.plot.setXRange(now - WINDOW, now, padding=0)  # always the last hour

    def showEvent(self, event: QShowEvent) -> None:
        """Catch up with the points that arrived while hidden."""
        super().showEvent(event)
        if self._stale:
            self._redraw()

"""TrendView: live values and history in one chart, several pens, one Y axis per unit.

While live, the X axis follows now (the preset's span) and each refresh batch is appended to the
pens' ring buffers; the curves get their data once per batch, and only while the view is shown.
When the person pans or zooms (or picks a custom range) live-follow stops and, 150 ms after the
last change, the history of the visible range is asked for asynchronously with one bucket per
pixel and drawn as a min-max envelope with the average line. An answer for a range no longer
shown is dropped. Nothing here waits on the client.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy.typing as npt
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from hmi.client import HistorySample, Trend
from hmi.tags import Value
from screens import i18n, theme
from screens.context import AppContext
from screens.i18n import tr
from screens.trends import actions
from screens.trends.axes import UnitAxes
from screens.trends.dialogs import PenPicker, RangeDialog, trendable
from screens.trends.export import ExportTable, visible_table, write_csv, write_xlsx
from screens.trends.groups import GroupStore, TrendGroup, validate_name
from screens.trends.legend import PenTable, Reading
from screens.trends.pens import PALETTE, Buckets, Pen, colour_for
from screens.trends.plot import TrendPlot
from screens.trends.presets import CUSTOM, DEFAULT, PRESETS, span_of
from screens.trends.readout import held, reading_at
from screens.trends.toolbar import TrendToolbar

REDRAW_MIN = 0.1  # seconds between live redraws, at least (the refresh period at 10 Hz)
REDRAW_MAX = 1.0  # and at most
# a due redraw waits this long, so its paint (the costliest of the screen: 15-60 ms, the whole
# plot) falls between refresh ticks instead of on top of the symbols' repaint after a tick
BETWEEN_TICKS_MS = 40

__all__ = ["TrendView"]

FETCH_DELAY_MS = 150  # debounce: ask for history this long after the last range change
REFETCH_FRACTION = 0.05  # while live, ask again once now moved this part of the span on
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class TrendView(QWidget):
    """A trend chart with live follow, history buckets, cursor read-out, groups and export."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trendView")
        self.context = context
        self.pens: dict[str, Pen] = {}
        self.preset = DEFAULT
        self.live = True
        self._drawn_at = 0.0  # monotonic time of the last live redraw
        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.timeout.connect(self._redraw_due)
        self.groups = GroupStore()
        self.history_requests = 0  # requests made (tests and the benchmark read these)
        self.dropped_answers = 0  # answers dropped because the range changed meanwhile
        self._following = False  # the X range is being moved to follow now, not by a person
        self._epoch = 0  # bumped whenever the range or the pens change: older answers are stale
        self._in_flight = 0
        self._readout_seq = 0  # bumped per read-out: late answers for an old cursor are dropped
        self._fetched: tuple[float, float] | None = None  # the range of the last answer used
        self._status: tuple[str, dict[str, Any]] = ("", {})
        self.picker: PenPicker | None = None
        self.range_dialog: RangeDialog | None = None

        self.toolbar = TrendToolbar(self)
        self.toolbar.preset_chosen.connect(self._on_preset)
        self.toolbar.live_button.clicked.connect(self.set_live)
        self.toolbar.add_button.clicked.connect(self.show_picker)
        self.toolbar.save_button.clicked.connect(lambda: actions.save_group(self))
        self.toolbar.open_button.clicked.connect(lambda: actions.open_group(self))
        self.toolbar.xlsx_button.clicked.connect(lambda: actions.export(self, "xlsx"))
        self.toolbar.csv_button.clicked.connect(lambda: actions.export(self, "csv"))

        self.plot_widget = TrendPlot(self.trendable, self.add_pens, self)
        self.plot = self.plot_widget.getPlotItem()
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.view = self.plot.getViewBox()
        self.view.setMouseEnabled(x=True, y=False)
        self.view.enableAutoRange(axis=pg.ViewBox.XAxis, enable=False)
        self.axes = UnitAxes(self.plot)
        self.cursor_line = pg.InfiniteLine(
            angle=90, movable=True, pen=pg.mkPen(theme.TEXT, width=1, style=Qt.PenStyle.DashLine)
        )
        self.cursor_line.setVisible(False)
        self.plot.addItem(self.cursor_line, ignoreBounds=True)
        self.cursor_line.sigPositionChanged.connect(self._show_readout)
        self.plot.scene().sigMouseClicked.connect(self._on_click)
        self.view.sigXRangeChanged.connect(self._on_x_range)
        self.view.sigRangeChangedManually.connect(self._on_manual_range)
        self.view.sigResized.connect(self._schedule_fetch)

        self.cursor_label = QLabel(self)
        self.cursor_label.setObjectName("trendCursor")
        self.status = QLabel(self)
        self.status.setObjectName("trendStatus")
        self.legend = PenTable(self.set_pen_visible, self.remove_pen, self)
        self._fetch_timer = QTimer(self)
        self._fetch_timer.setSingleShot(True)
        self._fetch_timer.setInterval(FETCH_DELAY_MS)
        self._fetch_timer.timeout.connect(self._fetch)

        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.plot_widget)
        split.addWidget(self.legend)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        split.setSizes([520, 140])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.toolbar)
        layout.addWidget(split, 1)
        layout.addWidget(self.cursor_label)
        layout.addWidget(self.status)
        self.toolbar.show_preset(self.preset)
        self.toolbar.show_live(self.live)
        self._follow_now()
        self.retranslate()
        i18n.on_change(self.retranslate)

    # ---- texts ---------------------------------------------------------------------------

    def retranslate(self, _code: str = "") -> None:
        """Set every text in the current language."""
        self.toolbar.retranslate()
        self.legend.retranslate()
        text, args = self._status
        self.status.setText(tr(text).format(**args) if text else "")
        self._show_readout()

    def set_status(self, text: str, **args: Any) -> None:
        """Show a status line (English text for `tr`, with its format arguments)."""
        self._status = (text, args)
        self.status.setText(tr(text).format(**args) if text else "")

    # ---- pens ----------------------------------------------------------------------------

    def trendable(self, names: Iterable[str]) -> list[str]:
        """The names among `names` that are known tags a trend can draw and not yet pens."""
        tags = self.context.client.tag_defs()
        out = []
        for name in names:
            tag = tags.get(name)
            if tag is not None and trendable(tag) and name not in self.pens and name not in out:
                out.append(name)
        return out

    def add_pens(self, names: Iterable[str]) -> list[str]:
        """Add tags as pens (unknown, text and present ones are skipped); the names added."""
        added = self.trendable(names)
        if not added:
            return []
        tags = self.context.client.tag_defs()
        _, values = self.context.client.snapshot()
        for name in added:
            used = {pen.colour.name() for pen in self.pens.values()}
            free = [i for i, c in enumerate(PALETTE) if c.name() not in used]
            pen = Pen(tags[name], colour_for(free[0] if free else len(self.pens)))
            self.pens[name] = pen
            current = values.get(name)
            if current is not None:
                self._append(pen, current)
        self._pens_changed()
        return added

    def remove_pen(self, tag: str) -> None:
        """Take a pen off the chart."""
        pen = self.pens.pop(tag, None)
        if pen is None:
            return
        for item in pen.items():
            owner = item.getViewBox()
            if owner is not None:
                owner.removeItem(item)
        self._pens_changed()

    def clear_pens(self) -> None:
        """Take every pen off the chart."""
        for tag in list(self.pens):
            self.remove_pen(tag)

    def set_pen_visible(self, tag: str, visible: bool) -> None:
        """Show or hide a pen (the legend's checkbox)."""
        pen = self.pens.get(tag)
        if pen is None:
            return
        pen.set_visible(visible)
        if visible and pen.dirty:
            pen.draw_live()
        if self.legend.checkbox(tag).checkState() != (
            Qt.CheckState.Checked if visible else Qt.CheckState.Unchecked
        ):
            self.legend.set_pens(list(self.pens.values()))

    def _pens_changed(self) -> None:
        pens = list(self.pens.values())
        for pen in pens:
            for item in pen.items():
                owner = item.getViewBox()
                if owner is not None:
                    owner.removeItem(item)
        units = list(dict.fromkeys(pen.unit for pen in pens))
        self.axes.set_units(units)
        for pen in pens:
            view = self.axes.view_for(pen.unit)
            for item in pen.items():
                view.addItem(item)
            pen.set_visible(pen.visible)
            pen.draw_history()
            pen.draw_live()
        for unit in units:
            same = [pen for pen in pens if pen.unit == unit]
            self.axes.colour_axis(unit, same[0].colour if len(same) == 1 else None)
        self.legend.set_pens(pens)
        self._show_readout()
        self._epoch += 1
        self._schedule_fetch()

    # ---- live values ---------------------------------------------------------------------

    @staticmethod
    def _append(pen: Pen, value: Value) -> None:
        ts = value.source_ts or value.recv_ts
        if not ts:
            return  # never received: nothing to draw yet
        last = pen.live.last_time()
        if last is not None and ts < last:
            ts = last  # a source clock a little behind: keep the sample, in order
        number = value.value
        good = value.good and isinstance(number, int | float)
        pen.live.append(ts, float(number) if good else math.nan)
        pen.dirty = True

    def apply(self, changes: dict[str, Value]) -> None:
        """Append a refresh batch to the pens; redraw once, and only while shown."""
        for name, value in changes.items():
            pen = self.pens.get(name)
            if pen is not None:
                self._append(pen, value)
        if not self.isVisible():
            return
        now = time.monotonic()
        lo, hi = self.x_range()
        per_pixel = (hi - lo) / self.pixel_width()
        # the picture changes when time has moved a pixel column on: redraw then (and at least
        # once a second), not at every refresh tick; 8 pens x 10,000 points stay cheap at 10 Hz
        wait = min(max(per_pixel, REDRAW_MIN), REDRAW_MAX) - (now - self._drawn_at)
        if not self._redraw.isActive():  # what arrived is drawn by then
            self._redraw.start(max(BETWEEN_TICKS_MS, round(wait * 1000)))
        if self.cursor_line.isVisible():
            self._show_readout()

    def _redraw_due(self) -> None:
        """The live redraw, between ticks: follow now (once it moved a pixel on), then draw."""
        if self.live and self.isVisible():
            lo, hi = self.x_range()
            if time.time() - hi >= (hi - lo) / self.pixel_width():
                self._follow_now()  # the axes are redrawn in the same paint as the curves
            self._refetch_if_moved()
        self._draw_live()

    def fill(self, tag: str, times: npt.ArrayLike, values: npt.ArrayLike) -> None:
        """Pre-fill a pen's live buffer (NaN: bad); the pen is added when missing."""
        if tag not in self.pens and not self.add_pens([tag]):
            raise KeyError(f"{tag} cannot be trended")
        pen = self.pens[tag]
        pen.live.clear()
        pen.live.extend(times, values)
        pen.dirty = True
        if self.isVisible():
            self._draw_live()

    def _draw_live(self) -> None:
        self._drawn_at = time.monotonic()
        self._redraw.stop()
        for pen in self.pens.values():
            if pen.dirty and pen.visible:
                pen.draw_live()

    def showEvent(self, event: QShowEvent) -> None:
        """Catch up with what arrived while hidden."""
        super().showEvent(event)
        self._draw_live()
        if self.live:
            self._follow_now()
            self._refetch_if_moved()
        elif self._fetched is None:
            self._schedule_fetch()

    # ---- time range ----------------------------------------------------------------------

    def x_range(self) -> tuple[float, float]:
        """The visible time range (epoch seconds)."""
        lo, hi = self.view.viewRange()[0]
        return float(lo), float(hi)

    def set_preset(self, key: str) -> None:
        """Show the last span of a preset ("10m", "1h", "8h", "24h", "7d") and follow now."""
        if key not in PRESETS:
            raise ValueError(f"unknown preset {key!r}")
        self.preset = key
        self.toolbar.show_preset(key)
        self.set_live(True)

    def set_live(self, live: bool) -> None:
        """Follow now (True) or stay at the range shown."""
        self.live = bool(live)
        self.toolbar.show_live(self.live)
        if self.live:
            self.toolbar.show_preset(self.preset)
            self._follow_now()
            self._epoch += 1
            self._schedule_fetch()
            self._draw_live()

    def set_range(self, start: float, end: float) -> None:
        """Show a fixed time range (live-follow stops); its history is fetched."""
        self.set_live(False)
        self.toolbar.show_preset(CUSTOM)
        self.view.setXRange(start, end, padding=0)

    def _follow_now(self) -> None:
        now = time.time()
        self._following = True
        try:
            self.view.setXRange(now - span_of(self.preset), now, padding=0)
        finally:
            self._following = False

    def _on_x_range(self, _view: object, _range: object) -> None:
        if self._following:
            return
        self._epoch += 1
        if self.live:
            self.set_live(False)
        self._schedule_fetch()

    def _on_manual_range(self, _mask: object) -> None:
        if self.live:
            self.set_live(False)

    def _on_preset(self, key: str) -> None:
        if key != CUSTOM:
            self.set_preset(key)
            return
        lo, hi = self.x_range()
        self.range_dialog = RangeDialog(lo, hi, self)
        self.range_dialog.accepted.connect(self._on_custom_range)
        self.range_dialog.rejected.connect(
            lambda: self.toolbar.show_preset(self.preset if self.live else CUSTOM)
        )
        self.range_dialog.open()

    def _on_custom_range(self) -> None:
        if self.range_dialog is not None:
            self.set_range(*self.range_dialog.span())

    # ---- history -------------------------------------------------------------------------

    def _schedule_fetch(self, *_: object) -> None:
        self._fetch_timer.start()

    def _refetch_if_moved(self) -> None:
        if self._in_flight or self._fetch_timer.isActive():
            return
        span = span_of(self.preset)
        if self._fetched is None or time.time() - self._fetched[1] > REFETCH_FRACTION * span:
            self._fetch()

    def fetching(self) -> bool:
        """True while a history request is due or under way."""
        return self._in_flight > 0 or self._fetch_timer.isActive()

    def pixel_width(self) -> int:
        """The plot's width in pixels: one history bucket each."""
        return max(1, int(self.view.width()))

    def _fetch(self) -> None:
        if not self.pens:
            return
        if not self.isVisible():
            self._fetched = None  # asked again when shown
            return
        lo, hi = self.x_range()
        if hi <= lo:
            return
        buckets, epoch, tags = self.pixel_width(), self._epoch, list(self.pens)
        self.history_requests += 1
        self._in_flight += 1  # the answer or the error takes it back
        self.set_status("Loading history…")
        try:
            future = self.context.client.history_trend(tags, lo, hi, buckets)
        except RuntimeError as exc:  # the client is closing
            self._on_history_error(epoch, (lo, hi), exc)
            return
        self.context.call(
            future,
            lambda answer: self._on_history(epoch, (lo, hi), buckets, answer),
            lambda error: self._on_history_error(epoch, (lo, hi), error),
            guard=self,
        )

    def _on_history(
        self, epoch: int, span: tuple[float, float], buckets: int, answer: dict[str, Trend]
    ) -> None:
        self._in_flight -= 1
        if epoch != self._epoch:
            self.dropped_answers += 1
            return
        self._fetched = span
        for tag, trend in answer.items():
            pen = self.pens.get(tag)
            if pen is not None:
                pen.buckets = Buckets.of(trend, span[0], span[1], buckets)
                pen.draw_history()
                pen.dirty = True
        self._draw_live()
        self.set_status("")
        self._show_readout()

    def _on_history_error(
        self, epoch: int, span: tuple[float, float], error: BaseException
    ) -> None:
        self._in_flight -= 1
        if epoch == self._epoch:
            self._fetched = span  # not again at every tick: when now moved on
            self.set_status("History unavailable: {error}", error=str(error))

    # ---- cursor --------------------------------------------------------------------------

    def place_cursor(self, ts: float) -> None:
        """Put the cursor at a time (epoch seconds) and show every pen's value there."""
        self.cursor_line.setVisible(True)
        self.cursor_line.setValue(ts)
        self._show_readout()

    def cursor_time(self) -> float | None:
        """The cursor's time, or None while it is not placed."""
        return float(self.cursor_line.value()) if self.cursor_line.isVisible() else None

    def _on_click(self, event: Any) -> None:
        if event.button() != Qt.MouseButton.LeftButton or event.double():
            return
        pos = event.scenePos()
        if self.view.sceneBoundingRect().contains(pos):
            self.place_cursor(float(self.view.mapSceneToView(pos).x()))

    def _show_readout(self, *_: object) -> None:
        ts = self.cursor_time()
        if ts is None:
            self.cursor_label.setText(tr("Click the chart to place the cursor."))
            return
        when = datetime.fromtimestamp(ts).strftime(TIME_FORMAT)
        self.cursor_label.setText(tr("Cursor: {time}").format(time=when))
        self._readout_seq += 1
        for pen in self.pens.values():
            reading = reading_at(pen, ts)
            if reading is None:  # between recorded samples: the historian's last one holds
                self.legend.show_reading(pen.name, Reading("…"))
                self._ask_held(pen, ts, self._readout_seq)
            else:
                self.legend.show_reading(pen.name, reading)

    def _ask_held(self, pen: Pen, ts: float, seq: int) -> None:
        def show(sample: HistorySample | None) -> None:
            if seq == self._readout_seq and self.pens.get(pen.name) is pen:
                self.legend.show_reading(pen.name, held(pen, ts, sample))

        try:
            future = self.context.client.last_before(pen.name, ts)
        except RuntimeError:  # the client is closing
            show(None)
            return
        self.context.call(future, show, lambda _error: show(None), guard=self)

    # ---- groups --------------------------------------------------------------------------

    def current_group(self, name: str) -> TrendGroup:
        """The pens and preset shown now, as a group called `name`."""
        hidden = frozenset(tag for tag, pen in self.pens.items() if not pen.visible)
        return TrendGroup(validate_name(name), tuple(self.pens), self.preset, hidden)

    def save_group(self, name: str, *, overwrite: bool = False) -> Path:
        """Save the pens and preset under a name (GroupExists unless `overwrite`)."""
        return self.groups.save(self.current_group(name), overwrite=overwrite)

    def open_group(self, name: str) -> None:
        """Replace the pens with a saved group's and show its preset."""
        group = self.groups.load(name)
        self.clear_pens()
        self.add_pens(group.pens)
        for tag in group.hidden & self.pens.keys():
            self.pens[tag].set_visible(False)
        self.legend.set_pens(list(self.pens.values()))
        self.set_preset(group.preset if group.preset in PRESETS else DEFAULT)

    # ---- add pen, export -----------------------------------------------------------------

    def show_picker(self) -> PenPicker:
        """Open the tag picker; the tags chosen are added when it is accepted."""
        self.picker = PenPicker(self.context.client.tag_defs(), set(self.pens), self)
        picker = self.picker
        picker.accepted.connect(lambda: self.add_pens(picker.chosen()))
        picker.open()
        return picker

    def export_table(self) -> ExportTable:
        """The visible range of the visible pens: their buckets if any are shown, else samples."""
        lo, hi = self.x_range()
        return visible_table([pen for pen in self.pens.values() if pen.visible], lo, hi)

    def export(self, path: Path) -> int:
        """Write the visible data to `path` (.xlsx, else CSV); the number of rows."""
        table = self.export_table()
        if path.suffix.lower() == ".xlsx":
            write_xlsx(table, path, tr("Trend"))
        else:
            write_csv(table, path)
        return len(table)

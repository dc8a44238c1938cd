"""Trends: live values and history in one chart, cursor read-out, legend, drag and drop from the
tag browser, groups, export, presets, and stale history answers dropped.

Fast tests use a client over a bare TagStore whose `history_trend` answers from a real
`HistoryReader` on a real DuckDB file; the slow ones run the demo station with its simulator.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from hmi.client import HistorySample, Trend, connect
from hmi.history.query import HistoryReader
from hmi.history.service import history_path
from hmi.history.store import HistoryStore
from hmi.project import load_project
from hmi.tags import DataType, Quality, Reason, TagDef, Value
from screens import i18n
from screens.context import AppContext
from screens.refresh import Refresher
from screens.tag_browser import COL_NAME, TagBrowser
from screens.trends import TrendView, dialogs
from screens.trends.groups import GroupStore
from screens.trends.legend import COL_PEN
from screens.trends.ring import RingBuffer
from tests.conftest import demo_copy
from tests.screens.history_fixture import BAD_AGO, Series, write_history
from tests.screens.store_client import StoreClient

TT, FT, PT = "HS1.TT101", "HS1.FT101", "HS1.PT101"
TAGS = {
    t.name: t
    for t in (
        TagDef(TT, description="Supply temperature", unit="°C", decimals=1),
        TagDef(FT, description="Supply flow", unit="kg/s", decimals=2),
        TagDef(PT, description="Supply pressure", unit="bar", decimals=2),
        TagDef("HS1.TEXT", description="A text tag", type=DataType.STRING),
    )
}


class FakeClient(StoreClient):
    """A RuntimeClient over a TagStore; history from a real reader (or answered by the test)."""

    project_name = "test"

    def __init__(self, tags: Mapping[str, TagDef], reader: HistoryReader | None = None) -> None:
        super().__init__(tags)
        self.reader = reader
        self.hold = False  # True: history futures stay pending until the test answers them
        self.requests: list[tuple[list[str], float, float, int, Future[dict[str, Trend]]]] = []

    def history_trend(
        self, tags: Sequence[str], start: float, end: float, buckets: int
    ) -> Future[dict[str, Trend]]:
        future: Future[dict[str, Trend]] = Future()
        self.requests.append((list(tags), start, end, buckets, future))
        if not self.hold:
            self.answer(future, list(tags), start, end, buckets)
        return future

    def answer(
        self, future: Future[dict[str, Trend]], tags: list[str], start: float, end: float, n: int
    ) -> None:
        if self.reader is None:
            future.set_result({tag: Trend.empty() for tag in tags})
        else:
            future.set_result(self.reader.trend(tags, start, end, n))

    def last_before(self, tag: str, ts: float) -> Future[HistorySample | None]:
        future: Future[HistorySample | None] = Future()
        future.set_result(None if self.reader is None else self.reader.last_before(tag, ts))
        return future


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """CONDUIT_HOME of this test (trend groups go there)."""
    path = tmp_path / "home"
    monkeypatch.setenv("CONDUIT_HOME", str(path))
    return path


History = tuple[FakeClient, dict[str, Series], float]


@pytest.fixture
def history(tmp_path: Path) -> Iterator[History]:
    """A client whose history is 8 days of known per-minute samples of TT and FT ending now."""
    now = time.time()
    path = tmp_path / "history.duckdb"
    series = write_history(path, [TT, FT], now)
    store = HistoryStore(path)
    client = FakeClient(TAGS, HistoryReader(store))
    yield client, series, now
    client.reader = None  # the view may outlive the test until Qt deletes it
    store.close()


def make_view(qtbot: QtBot, client: object) -> tuple[TrendView, Refresher]:
    refresher = Refresher(client, interval_ms=50)  # type: ignore[arg-type]
    context = AppContext(client, refresher)  # type: ignore[arg-type]
    view = TrendView(context)
    qtbot.addWidget(view)
    refresher.setParent(view)
    context.setParent(view)
    refresher.subscribe(view.apply)
    view.resize(1000, 700)
    view.show()
    qtbot.waitExposed(view)
    refresher.start()
    return view, refresher


def curve_points(view: TrendView, tag: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = view.pens[tag].curve.getOriginalDataset()
    if x is None or y is None:
        return np.empty(0), np.empty(0)
    return np.asarray(x), np.asarray(y)


def good(value: float, ts: float) -> Value:
    return Value(value, Quality.GOOD, Reason.NONE, ts, ts)


# ---- ring buffer ----------------------------------------------------------------------------


def test_the_ring_buffer_keeps_the_newest_samples_in_order() -> None:
    ring = RingBuffer(capacity=5)
    for i in range(12):
        assert ring.append(float(i), i * 10.0)
    assert list(ring.times) == [7.0, 8.0, 9.0, 10.0, 11.0]
    assert not ring.append(3.0, 1.0)  # older than the newest: dropped
    ring.extend(np.arange(20.0, 23.0), np.arange(3.0))
    assert list(ring.times) == [10.0, 11.0, 20.0, 21.0, 22.0]
    assert ring.at_or_before(20.5) == (20.0, 0.0)
    assert ring.at_or_before(1.0) is None


# ---- live ------------------------------------------------------------------------------------


def test_live_values_are_drawn_and_a_bad_value_is_a_gap(qtbot: QtBot, home: Path) -> None:
    client = FakeClient(TAGS)
    view, refresher = make_view(qtbot, client)
    assert view.add_pens([TT, FT, "HS1.TEXT", "NOPE"]) == [TT, FT]
    now = time.time()
    client.store.update([(TT, good(85.25, now - 3)), (FT, good(40.5, now - 3))])
    qtbot.waitUntil(lambda: 85.25 in curve_points(view, TT)[1], timeout=2000)
    client.store.update([(TT, Value(None, Quality.BAD, Reason.COMM_FAILURE, None, now - 2))])
    qtbot.waitUntil(lambda: np.isnan(curve_points(view, TT)[1]).any(), timeout=2000)
    client.store.update([(TT, good(86.0, now - 1))])
    qtbot.waitUntil(lambda: 86.0 in curve_points(view, TT)[1], timeout=2000)
    _, y = curve_points(view, TT)
    finite = [v for v in y if not math.isnan(v)]
    assert finite == [85.25, 86.0]  # the bad value is never drawn as a number ...
    assert any(math.isnan(v) for v in y)  # ... it is a gap
    assert 40.5 in curve_points(view, FT)[1]
    lo, hi = view.x_range()
    assert view.live and hi == pytest.approx(time.time(), abs=2) and hi - lo == pytest.approx(3600)
    refresher.stop()


# ---- history ---------------------------------------------------------------------------------


def pick_preset(view: TrendView, key: str) -> None:
    """Choose a preset in the combo box as a person does."""
    box = view.toolbar.preset_box
    index = box.findData(key)
    box.setCurrentIndex(index)
    box.activated.emit(index)


def assert_envelope_matches(view: TrendView, tag: str, series: Series, upto: float) -> int:
    """Each drawn bucket that ends before `upto` has the min/max of the good values in it."""
    buckets = view.pens[tag].buckets
    assert buckets is not None
    starts, ends = buckets.trend.bucket_start, buckets.ends()
    x, y = view.pens[tag].envelope.getOriginalDataset()
    assert len(x) == 2 * len(starts)  # one min-max segment per bucket
    checked = 0
    for i in range(0, len(starts), 37):
        if ends[i] > upto:
            continue
        want = series.good_between(starts[i], ends[i])
        assert (y[2 * i], y[2 * i + 1]) == (want.min(), want.max())
        checked += 1
    assert checked > 5
    return checked


def test_scrolling_back_seven_days_draws_min_max_buckets(
    qtbot: QtBot, home: Path, history: History
) -> None:
    client, series, now = history
    view, refresher = make_view(qtbot, client)
    view.add_pens([TT, FT])
    pick_preset(view, "7d")
    lo, hi = view.x_range()
    assert hi - lo == pytest.approx(7 * 86400) and hi == pytest.approx(time.time(), abs=2)
    qtbot.waitUntil(lambda: settled(view), timeout=3000)
    width = view.pixel_width()
    assert width > 500
    for tag in (TT, FT):
        buckets = view.pens[tag].buckets
        assert buckets is not None and buckets.asked == width
        assert 0.85 * width <= len(buckets) <= width  # one bucket per pixel (on the rollup grid)
        assert_envelope_matches(view, tag, series[tag], now - 120)
    # the bad hour of TT is a gap in the average line, not a number
    bad_at = now - BAD_AGO + 1800
    tt = view.pens[TT].buckets
    assert tt is not None and tt.containing(bad_at) is None
    x, y = view.pens[TT].avg.getOriginalDataset()
    gap = np.flatnonzero(np.isnan(y))
    assert any(x[g - 1] < bad_at < x[g + 1] for g in gap)
    refresher.stop()


def settled(view: TrendView, at_least: int = 100) -> bool:
    """True once every pen shows buckets for the plot's current width and nothing is asked."""
    width = view.pixel_width()
    return not view.fetching() and all(
        p.buckets is not None and len(p.buckets) >= at_least and p.buckets.asked == width
        for p in view.pens.values()
    )


def click_plot_at(qtbot: QtBot, view: TrendView, ts: float) -> None:
    """A left click on the chart at time `ts`, half way up."""
    scene_x = view.view.mapViewToScene(QPointF(ts, 0)).x()
    rect = view.view.sceneBoundingRect()
    scene = QPointF(scene_x, rect.center().y())
    pos = view.plot_widget.mapFromScene(scene)
    qtbot.mouseClick(view.plot_widget.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def test_the_cursor_read_out_matches_the_historian(
    qtbot: QtBot, home: Path, history: History
) -> None:
    client, series, now = history
    view, refresher = make_view(qtbot, client)
    view.add_pens([TT, FT])
    refresher.stop()
    view.set_range(now - 2 * 86400, now - 86400)  # a day, two days back: not live
    assert not view.live and not view.toolbar.live_button.isChecked()
    qtbot.waitUntil(lambda: settled(view), timeout=3000)
    click_plot_at(qtbot, view, now - 1.5 * 86400)
    at = view.cursor_time()
    assert at is not None and at == pytest.approx(now - 1.5 * 86400, abs=300)
    assert datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S") in view.cursor_label.text()
    for tag in (TT, FT):
        b = view.pens[tag].buckets
        assert b is not None
        assert client.reader is not None
        expect = client.reader.trend([tag], b.start, b.end, b.asked)[tag]
        i = int(np.searchsorted(expect.bucket_start, at, side="right")) - 1
        decimals = TAGS[tag].decimals
        shown = view.legend.reading(tag)
        assert shown.value == f"{expect.avg[i]:.{decimals}f}"
        assert shown.low == f"{expect.min[i]:.{decimals}f}"
        assert shown.high == f"{expect.max[i]:.{decimals}f}"
        # and the historian's bucket is what was written there
        good_values = series[tag].good_between(expect.bucket_start[i], expect.bucket_start[i + 1])
        assert float(shown.low) == pytest.approx(good_values.min(), abs=10**-decimals)
    # dragging the cursor moves the read-out
    before = view.legend.reading(TT)
    view.cursor_line.setValue(now - 1.25 * 86400)
    assert view.legend.reading(TT) != before


def test_the_cursor_in_a_bad_period_reads_bad_not_a_number(
    qtbot: QtBot, home: Path, history: History
) -> None:
    client, _, now = history
    view, refresher = make_view(qtbot, client)
    refresher.stop()
    view.add_pens([TT, FT])
    bad_start = now - BAD_AGO
    view.set_range(bad_start - 3 * 3600, bad_start + 3 * 3600)
    qtbot.waitUntil(lambda: settled(view), timeout=3000)
    click_plot_at(qtbot, view, bad_start + 1800)
    qtbot.waitUntil(lambda: view.legend.reading(TT).value != "…", timeout=2000)
    shown = view.legend.reading(TT)
    assert shown.value == "BAD" and shown.bad and shown.low == shown.high == ""
    assert not view.legend.reading(FT).bad  # the other pen was good then
    float(view.legend.reading(FT).value)


def test_a_stale_history_answer_is_dropped(qtbot: QtBot, home: Path, history: History) -> None:
    client, _, now = history
    client.hold = True
    view, refresher = make_view(qtbot, client)
    refresher.stop()
    view.add_pens([TT])
    view.set_range(now - 3 * 86400, now - 2 * 86400)
    qtbot.waitUntil(lambda: len(client.requests) >= 1, timeout=2000)
    first = client.requests[-1]
    view.set_range(now - 5 * 86400, now - 4 * 86400)  # the person moved on meanwhile
    qtbot.waitUntil(lambda: client.requests[-1][1] == pytest.approx(now - 5 * 86400), timeout=2000)
    second = client.requests[-1]
    tags, lo, hi, n, future = first
    client.answer(future, tags, lo, hi, n)
    qtbot.waitUntil(lambda: view.dropped_answers >= 1, timeout=2000)
    assert view.pens[TT].buckets is None  # nothing drawn from the old range
    tags, lo, hi, n, future = second
    client.answer(future, tags, lo, hi, n)
    qtbot.waitUntil(lambda: view.pens[TT].buckets is not None, timeout=2000)
    b = view.pens[TT].buckets
    assert b is not None and b.start == pytest.approx(now - 5 * 86400)


# ---- legend, pens, drag and drop ------------------------------------------------------------


def click_checkbox(qtbot: QtBot, view: TrendView, tag: str) -> None:
    """Click a pen's show/hide checkbox in the legend."""
    legend = view.legend
    rect = legend.visualItemRect(legend.checkbox(tag))
    pos = QPoint(rect.left() + 10, rect.center().y())
    qtbot.mouseClick(legend.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def test_the_legend_hides_and_shows_a_pen_and_removes_one(qtbot: QtBot, home: Path) -> None:
    client = FakeClient(TAGS)
    view, refresher = make_view(qtbot, client)
    refresher.stop()
    view.add_pens([TT, FT, PT])
    assert view.legend.names() == [TT, FT, PT]
    assert len({p.colour.name() for p in view.pens.values()}) == 3  # a colour each
    # one axis per unit: the first on the left, the others on the right
    assert view.axes.units == ["°C", "kg/s", "bar"]
    assert view.pens[FT].curve.getViewBox() is view.axes.view_for("kg/s")
    assert view.pens[FT].curve.getViewBox() is not view.view
    click_checkbox(qtbot, view, FT)
    assert not view.pens[FT].visible and not view.pens[FT].curve.isVisible()
    assert view.legend.checkbox(FT).checkState() == Qt.CheckState.Unchecked
    assert view.pens[TT].curve.isVisible()
    click_checkbox(qtbot, view, FT)
    assert view.pens[FT].curve.isVisible()
    qtbot.mouseClick(view.legend.remove_button(FT), Qt.MouseButton.LeftButton)
    assert list(view.pens) == [TT, PT] and view.legend.names() == [TT, PT]
    assert view.axes.units == ["°C", "bar"]


def test_dragging_a_tag_from_the_tag_browser_adds_a_pen(qtbot: QtBot, home: Path) -> None:
    client = FakeClient(TAGS)
    view, refresher = make_view(qtbot, client)
    refresher.stop()
    view.add_pens([TT])
    browser = TagBrowser(client.tag_defs())
    qtbot.addWidget(browser)
    browser.show()
    qtbot.keyClicks(browser.filter, "FT101")
    browser.table.selectRow(0)
    indexes = browser.table.selectionModel().selectedIndexes()
    assert {i.data() for i in indexes if i.column() == COL_NAME} == {FT}
    mime = browser.proxy.mimeData(indexes)
    assert mime.text() == FT and mime.hasFormat("application/x-conduit-tags")
    event = QDropEvent(
        QPointF(200, 150),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    view.plot_widget.dropEvent(event)
    assert event.isAccepted()
    assert list(view.pens) == [TT, FT] and view.legend.names() == [TT, FT]
    view.plot_widget.dropEvent(event)  # the same tag again: nothing new
    assert list(view.pens) == [TT, FT]


def test_add_pen_picks_tags_through_a_filter(qtbot: QtBot, home: Path) -> None:
    client = FakeClient(TAGS)
    view, refresher = make_view(qtbot, client)
    refresher.stop()
    view.add_pens([TT])
    qtbot.mouseClick(view.toolbar.add_button, Qt.MouseButton.LeftButton)
    picker = view.picker
    assert picker is not None and picker.isVisible()
    assert picker.shown() == [FT, PT]  # not the pen already there, not the text tag
    qtbot.keyClicks(picker.filter, "pressure")
    assert picker.shown() == [PT]
    item = next(
        picker.list.item(r)
        for r in range(picker.list.count())
        if not picker.list.item(r).isHidden()
    )
    rect = picker.list.visualItemRect(item)
    qtbot.mouseClick(picker.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert picker.chosen() == [PT]
    ok = picker.buttons.buttons()[0]
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    assert list(view.pens) == [TT, PT]


# ---- time range ------------------------------------------------------------------------------


def test_presets_set_the_range_panning_stops_live_and_live_resumes(
    qtbot: QtBot, home: Path
) -> None:
    client = FakeClient(TAGS)
    view, refresher = make_view(qtbot, client)
    refresher.stop()
    view.add_pens([TT])
    for key, span in (("10m", 600), ("8h", 8 * 3600), ("24h", 86400), ("1h", 3600)):
        pick_preset(view, key)
        lo, hi = view.x_range()
        assert hi - lo == pytest.approx(span) and hi == pytest.approx(time.time(), abs=2)
        assert view.live and view.toolbar.live_button.isChecked()
    # the person drags the chart to the right: back in time
    rect = view.view.sceneBoundingRect()
    start = view.plot_widget.mapFromScene(rect.center())
    qtbot.mousePress(view.plot_widget.viewport(), Qt.MouseButton.LeftButton, pos=start)
    for dx in range(10, 210, 20):
        qtbot.mouseMove(view.plot_widget.viewport(), start + QPoint(dx, 0))
    qtbot.mouseRelease(
        view.plot_widget.viewport(), Qt.MouseButton.LeftButton, pos=start + QPoint(200, 0)
    )
    lo, hi = view.x_range()
    assert hi < time.time() - 60
    assert not view.live and not view.toolbar.live_button.isChecked()
    qtbot.waitUntil(lambda: bool(client.requests) and client.requests[-1][2] == pytest.approx(hi))
    qtbot.mouseClick(view.toolbar.live_button, Qt.MouseButton.LeftButton)
    lo, hi = view.x_range()
    assert view.live and hi == pytest.approx(time.time(), abs=2) and hi - lo == pytest.approx(3600)


def test_the_custom_preset_asks_for_a_range(qtbot: QtBot, home: Path, history: History) -> None:
    client, _, now = history
    view, refresher = make_view(qtbot, client)
    refresher.stop()
    view.add_pens([TT])
    pick_preset(view, "custom")
    dialog = view.range_dialog
    assert dialog is not None and dialog.isVisible()
    start = datetime.fromtimestamp(now - 4 * 86400).replace(microsecond=0)
    end = datetime.fromtimestamp(now - 3 * 86400).replace(microsecond=0)
    for edit, when in ((dialog.start_edit, end), (dialog.end_edit, start)):  # wrong way round
        edit.setDateTime(when)
    qtbot.mouseClick(dialog.buttons.buttons()[0], Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and dialog.error.text()  # refused: the end is before the start
    dialog.start_edit.setDateTime(start)
    dialog.end_edit.setDateTime(end)
    qtbot.mouseClick(dialog.buttons.buttons()[0], Qt.MouseButton.LeftButton)
    assert view.x_range() == pytest.approx((start.timestamp(), end.timestamp()))
    assert not view.live
    qtbot.waitUntil(lambda: len(view.pens[TT].buckets or ()) > 100, timeout=3000)


# ---- groups and export -----------------------------------------------------------------------


def test_a_saved_group_opens_with_its_pens_and_overwriting_asks(
    qtbot: QtBot, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = FakeClient(TAGS)
    view, refresher = make_view(qtbot, client)
    refresher.stop()
    view.add_pens([TT, PT])
    view.set_pen_visible(PT, False)
    pick_preset(view, "8h")
    answers = {"text": "Shift 早班", "yes": False}
    asked: list[str] = []
    monkeypatch.setattr(dialogs, "ask_text", lambda *a, **k: answers["text"])
    monkeypatch.setattr(
        dialogs, "ask_yes_no", lambda _p, _t, text: asked.append(text) or answers["yes"]
    )
    told: list[str] = []
    monkeypatch.setattr(dialogs, "tell", lambda _p, _t, text: told.append(text))
    qtbot.mouseClick(view.toolbar.save_button, Qt.MouseButton.LeftButton)
    path = home / "trend_groups" / "Shift 早班.json"
    assert path.exists() and not asked
    saved = path.read_text(encoding="utf-8")
    # the same name again: the person is asked, says no, nothing changes
    view.add_pens([FT])
    qtbot.mouseClick(view.toolbar.save_button, Qt.MouseButton.LeftButton)
    assert len(asked) == 1 and "Shift 早班" in asked[0]
    assert path.read_text(encoding="utf-8") == saved
    # a bad name is refused with a reason
    answers["text"] = "../evil"
    qtbot.mouseClick(view.toolbar.save_button, Qt.MouseButton.LeftButton)
    assert told and not (home / "evil.json").exists()
    assert GroupStore().names() == ["Shift 早班"]
    # open it in a fresh view
    other, refresher2 = make_view(qtbot, client)
    refresher2.stop()
    other.add_pens([FT])
    monkeypatch.setattr(dialogs, "ask_item", lambda _p, _t, _l, items: items[0])
    qtbot.mouseClick(other.toolbar.open_button, Qt.MouseButton.LeftButton)
    assert list(other.pens) == [TT, PT]
    assert other.pens[TT].visible and not other.pens[PT].visible
    assert other.legend.checkbox(PT).checkState() == Qt.CheckState.Unchecked
    assert other.preset == "8h" and other.toolbar.preset_box.currentData() == "8h"
    lo, hi = other.x_range()
    assert hi - lo == pytest.approx(8 * 3600)


def test_export_writes_the_visible_samples_to_xlsx_and_csv(
    qtbot: QtBot, home: Path, tmp_path: Path
) -> None:
    client = FakeClient(TAGS)
    view, refresher = make_view(qtbot, client)
    refresher.stop()
    view.add_pens([TT, FT, PT])
    now = time.time()
    times = np.arange(now - 7200, now, 60.0)  # two hours; the 1 h preset shows the last one
    view.fill(TT, times, np.round(80 + np.arange(len(times)) * 0.1, 1))
    flow = np.round(30 + np.arange(len(times)) * 0.01, 2)
    flow[-5] = np.nan  # bad: an empty cell
    view.fill(FT, times, flow)
    view.fill(PT, times, np.full(len(times), 6.0))
    view.set_pen_visible(PT, False)  # hidden pens are not exported
    lo, hi = view.x_range()
    shown = times[(times >= lo) & (times <= hi)]
    assert 55 <= len(shown) <= 61
    xlsx = tmp_path / "out.xlsx"
    assert view.export(xlsx) == len(shown)
    sheet = openpyxl.load_workbook(xlsx).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("Time", f"{TT} [°C]", f"{FT} [kg/s]")
    assert len(rows) == len(shown) + 1
    first = rows[1]
    assert (
        first[0] == datetime.fromtimestamp(shown[0]).replace(microsecond=0)
        or abs((first[0] - datetime.fromtimestamp(shown[0])).total_seconds()) < 0.001
    )
    i = int(np.searchsorted(times, shown[0]))
    assert first[1] == pytest.approx(80 + i * 0.1) and first[2] == pytest.approx(30 + i * 0.01)
    assert rows[-5][2] is None and rows[-5][1] is not None
    out = tmp_path / "out.csv"
    monkeypatch_path = str(out)
    dialogs_save = dialogs.ask_save_path
    try:
        dialogs.ask_save_path = lambda *a, **k: monkeypatch_path  # type: ignore[assignment]
        qtbot.mouseClick(view.toolbar.csv_button, Qt.MouseButton.LeftButton)
    finally:
        dialogs.ask_save_path = dialogs_save  # type: ignore[assignment]
    with out.open(encoding="utf-8-sig", newline="") as f:
        lines = list(csv.reader(f))
    assert lines[0] == ["Time", f"{TT} [°C]", f"{FT} [kg/s]"]
    assert len(lines) == len(shown) + 1
    assert lines[1][0] == datetime.fromtimestamp(shown[0]).strftime("%Y-%m-%d %H:%M:%S")
    assert lines[1][1] == f"{80 + i * 0.1:.1f}" and lines[1][2] == f"{30 + i * 0.01:.2f}"
    assert lines[-5][2] == ""
    assert str(out) in view.status.text()


def test_export_of_history_writes_min_avg_max_per_pen(
    qtbot: QtBot, home: Path, tmp_path: Path, history: History
) -> None:
    client, _, now = history
    view, refresher = make_view(qtbot, client)
    refresher.stop()
    view.add_pens([TT, FT])
    view.set_range(now - 3 * 86400, now - 2 * 86400)
    qtbot.waitUntil(lambda: settled(view), timeout=3000)
    out = tmp_path / "history.xlsx"
    rows_written = view.export(out)
    rows = list(openpyxl.load_workbook(out).active.iter_rows(values_only=True))
    assert rows[0] == (
        "Time",
        f"{TT} min [°C]",
        f"{TT} avg [°C]",
        f"{TT} max [°C]",
        f"{FT} min [kg/s]",
        f"{FT} avg [kg/s]",
        f"{FT} max [kg/s]",
    )
    tt, ft = view.pens[TT].buckets, view.pens[FT].buckets
    assert tt is not None and ft is not None
    assert rows_written == len(rows) - 1 == len(ft) == len(tt) + 30  # TT's bad hour: empty
    assert sum(1 for r in rows[1:] if r[1] is None and r[4] is not None) == 30
    first_tt = next(r for r in rows[1:] if r[1] is not None)  # after the bad hour
    assert first_tt[0].timestamp() == pytest.approx(tt.trend.bucket_start[0], abs=0.001)
    assert first_tt[1:4] == pytest.approx((tt.trend.min[0], tt.trend.avg[0], tt.trend.max[0]))
    assert rows[-1][4:7] == pytest.approx((ft.trend.min[-1], ft.trend.avg[-1], ft.trend.max[-1]))
    assert rows[1][0].timestamp() == pytest.approx(ft.trend.bucket_start[0], abs=0.001)


# ---- language --------------------------------------------------------------------------------


def test_every_text_is_translated_to_chinese(qtbot: QtBot, home: Path) -> None:
    client = FakeClient(TAGS)
    view, refresher = make_view(qtbot, client)
    refresher.stop()
    view.add_pens([TT, FT])
    view.place_cursor(time.time() - 600)
    i18n.clear_missing()
    try:
        i18n.set_language("zh_CN")
        picker = view.show_picker()
        pick_preset(view, "custom")
        assert view.range_dialog is not None
        texts = [
            view.toolbar.preset_box.itemText(i) for i in range(view.toolbar.preset_box.count())
        ]
        texts += [b.text() for b in view.toolbar.findChildren(type(view.toolbar.add_button))]
        header = view.legend.horizontalHeader()
        texts += [
            view.legend.model().headerData(c, Qt.Orientation.Horizontal) or ""
            for c in range(header.count())
        ]
        texts += [view.cursor_label.text(), picker.windowTitle(), view.range_dialog.windowTitle()]
        texts += [b.text() for b in picker.buttons.buttons()]
        texts += [view.legend.reading(TT).value]
        for text in texts:
            latin = [w for w in text.replace("…", " ").split() if w.isascii() and w.isalpha()]
            assert not latin, f"untranslated: {text!r}"
        assert not i18n.missing()
        assert view.legend.item(0, COL_PEN).text() == TT  # tag names stay as they are
    finally:
        i18n.set_language("en")
    assert view.toolbar.live_button.text() == "Live"


# ---- against the demo station and its simulator (slow) ---------------------------------------


class Published:
    """Every value of the pens' tags the refresher delivered (what the runtime published)."""

    def __init__(self, tags: Sequence[str]) -> None:
        self.values: dict[str, set[float]] = {tag: set() for tag in tags}
        self.last: dict[str, float] = {}

    def apply(self, changes: dict[str, Value]) -> None:
        for tag, value in changes.items():
            if tag in self.values and value.good:
                self.values[tag].add(float(value.value))
                self.last[tag] = float(value.value)


def close_views() -> None:
    """Stop the refreshers and close every trend view."""
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, TrendView):
            for refresher in widget.findChildren(Refresher):
                refresher.stop()
            widget.close()


def station_view(qtbot: QtBot, client: object) -> tuple[TrendView, Refresher, Published]:
    refresher = Refresher(client, interval_ms=100)  # type: ignore[arg-type]
    context = AppContext(client, refresher)  # type: ignore[arg-type]
    view = TrendView(context)
    qtbot.addWidget(view)
    refresher.setParent(view)
    context.setParent(view)
    published = Published([TT, FT])
    refresher.subscribe(published.apply)
    refresher.subscribe(view.apply)
    view.resize(1000, 700)
    view.show()
    qtbot.waitExposed(view)
    return view, refresher, published


@pytest.mark.slow
def test_two_pens_show_the_live_values_the_runtime_published(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONDUIT_HOME", str(tmp_path / "home"))
    client = connect(demo_copy(tmp_path), simulate=True)
    try:
        view, refresher, published = station_view(qtbot, client)
        view.add_pens([TT, FT])
        view.set_preset("10m")
        refresher.start()

        def shows_the_newest(tag: str) -> bool:
            y = curve_points(view, tag)[1]
            drawn = [float(v) for v in y if not math.isnan(v)]
            # two values published since the refresher started, the newest one drawn last
            return len(set(drawn) & published.values[tag]) >= 2 and drawn[-1] == published.last[tag]

        qtbot.waitUntil(lambda: shows_the_newest(TT) and shows_the_newest(FT), timeout=40000)
        for tag in (TT, FT):
            x, y = curve_points(view, tag)
            lo, hi = view.x_range()
            assert hi == pytest.approx(time.time(), abs=3) and hi - lo == pytest.approx(600)
            assert x[-1] >= lo  # the newest samples are in view
            drawn = [float(v) for v in y if not math.isnan(v)]
            # every point drawn was published, but the first: the value when the pen was added
            assert set(drawn[1:]) <= published.values[tag]
    finally:
        close_views()  # before the client: a closed view asks nothing
        client.close()


@pytest.mark.slow
def test_seven_days_of_recorded_history_are_drawn_and_read_at_the_cursor(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("CONDUIT_HOME", str(home))
    project = demo_copy(tmp_path)
    now = time.time()
    series = write_history(history_path(home, load_project(project).name), [TT, FT], now - 60)
    client = connect(project, simulate=True)
    try:
        view, refresher, _ = station_view(qtbot, client)
        view.add_pens([TT, FT])
        refresher.start()
        pick_preset(view, "7d")
        qtbot.waitUntil(lambda: settled(view, 500), timeout=20000)
        width = view.pixel_width()
        for tag in (TT, FT):
            buckets = view.pens[tag].buckets
            assert buckets is not None and buckets.asked == width
            assert 0.85 * width <= len(buckets) <= width
            assert buckets.end - buckets.start == pytest.approx(7 * 86400, abs=5)
            assert_envelope_matches(view, tag, series[tag], now - 120)
        # the cursor two days back reads what the historian answers for that bucket
        refresher.stop()
        at = now - 2 * 86400 + 1234.5
        view.place_cursor(at)
        for tag in (TT, FT):
            b = view.pens[tag].buckets
            assert b is not None
            answer = client.history_trend([tag], b.start, b.end, b.asked).result(10)[tag]
            i = int(np.searchsorted(answer.bucket_start, at, side="right")) - 1
            d = TAGS[tag].decimals
            shown = view.legend.reading(tag)
            assert (shown.value, shown.low, shown.high) == (
                f"{answer.avg[i]:.{d}f}",
                f"{answer.min[i]:.{d}f}",
                f"{answer.max[i]:.{d}f}",
            )
    finally:
        close_views()  # before the client: a closed view asks nothing
        client.close()

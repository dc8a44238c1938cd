"""Alarm panel model: rows merged from batches with fine-grained signals, language, colours,
filtering and the default order (most urgent first, newest first)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, Qt
from pytestqt.qtbot import QtBot

from hmi.client import AlarmKind, AlarmState, AlarmView, Priority
from screens import theme
from screens.alarms.model import (
    COL_AREA,
    COL_MESSAGE,
    COL_PRIORITY,
    COL_TAG,
    COL_TIME,
    AlarmFilter,
    AlarmTableModel,
    SortRole,
    ViewRole,
    priority_colour,
)

T0 = 1_700_000_000.0


def alarm(
    tag: str,
    *,
    priority: Priority = Priority.MEDIUM,
    state: AlarmState = AlarmState.UNACK,
    area: str = "HS1",
    since: float = T0,
    value: float | None = 95.0,
    limit: float | None = 90.0,
) -> AlarmView:
    return AlarmView(
        id=f"{tag}.hi",
        tag=tag,
        kind=AlarmKind.HI,
        area=area,
        priority=priority,
        state=state,
        active=state is not AlarmState.NORMAL,
        acked=state is AlarmState.ACKED,
        message_en="{value} above {limit}",
        message_zh="高于限值 {limit}",
        value=value,
        limit=limit,
        since=since,
    )


class Spy:
    """Counts a model's structural and data signals."""

    def __init__(self, model: AlarmTableModel) -> None:
        self.inserted: list[tuple[int, int]] = []
        self.removed: list[tuple[int, int]] = []
        self.changed: list[tuple[int, int]] = []
        self.resets = 0
        self.headers = 0
        model.rowsInserted.connect(lambda _p, a, b: self.inserted.append((a, b)))
        model.rowsRemoved.connect(lambda _p, a, b: self.removed.append((a, b)))
        model.dataChanged.connect(lambda tl, br, *_: self.changed.append((tl.row(), br.row())))
        model.modelReset.connect(self._reset)
        model.headerDataChanged.connect(self._header)

    def _reset(self) -> None:
        self.resets += 1

    def _header(self, *_: Any) -> None:
        self.headers += 1


def tags(model: Any) -> list[str]:
    return [model.index(r, COL_TAG).data() for r in range(model.rowCount())]


def test_reset_leaves_out_normal_alarms(qtbot: QtBot) -> None:
    model = AlarmTableModel()
    spy = Spy(model)
    model.reset([alarm("A"), alarm("B", state=AlarmState.NORMAL), alarm("C")])
    assert tags(model) == ["A", "C"]
    assert spy.resets == 1
    assert model.columnCount() == 8
    assert model.index(0, COL_TIME).data() == datetime.fromtimestamp(T0).strftime("%H:%M:%S")


def test_apply_inserts_updates_and_removes_without_reset(qtbot: QtBot) -> None:
    model = AlarmTableModel()
    model.reset([alarm("A"), alarm("B"), alarm("C")])
    spy = Spy(model)

    with qtbot.waitSignal(model.rowsInserted):
        model.apply([alarm("D")])
    assert spy.inserted == [(3, 3)]
    assert tags(model) == ["A", "B", "C", "D"]

    with qtbot.waitSignal(model.dataChanged):
        model.apply([alarm("B", state=AlarmState.ACKED)])
    assert spy.changed == [(1, 1)]
    assert model.index(1, 0).data(ViewRole).state is AlarmState.ACKED

    with qtbot.waitSignal(model.rowsRemoved):
        model.apply([alarm("A", state=AlarmState.NORMAL), alarm("C", state=AlarmState.NORMAL)])
    assert sorted(spy.removed) == [(0, 0), (2, 2)]
    assert tags(model) == ["B", "D"]
    assert model.find("B.hi") is not None and model.find("A.hi") is None

    # a mixed batch: one removed, one updated, one new, one unchanged, one normal never shown
    spy.changed.clear()
    model.apply(
        [
            alarm("B", state=AlarmState.NORMAL),
            alarm("D", value=120.0),
            alarm("E"),
            alarm("X", state=AlarmState.NORMAL),
        ]
    )
    assert tags(model) == ["D", "E"]
    assert spy.changed == [(0, 0)]
    assert model.index(0, 0).data(ViewRole).value == 120.0
    assert spy.resets == 0


def test_unchanged_view_emits_nothing(qtbot: QtBot) -> None:
    model = AlarmTableModel()
    model.reset([alarm("A")])
    spy = Spy(model)
    model.apply([alarm("A")])
    assert (spy.changed, spy.inserted, spy.removed, spy.resets) == ([], [], [], 0)


def test_removing_a_run_of_rows(qtbot: QtBot) -> None:
    model = AlarmTableModel()
    model.reset([alarm(t) for t in "ABCDE"])
    spy = Spy(model)
    model.apply([alarm(t, state=AlarmState.NORMAL) for t in "BCD"])
    assert spy.removed == [(1, 3)]
    assert tags(model) == ["A", "E"]
    assert model.find("E.hi") == model.index(1, 0).data(ViewRole)


def test_message_follows_language(qtbot: QtBot) -> None:
    model = AlarmTableModel()
    model.reset([alarm("A")])
    spy = Spy(model)
    assert model.index(0, COL_MESSAGE).data() == "95.0 above 90.0"
    assert model.headerData(COL_MESSAGE, Qt.Orientation.Horizontal) == "Message"
    model.set_language("zh_CN")
    assert model.index(0, COL_MESSAGE).data() == "高于限值 90.0"
    assert [model.headerData(c, Qt.Orientation.Horizontal) for c in range(8)] == [
        "优先级",
        "状态",
        "时间",
        "区域",
        "位号",
        "报警信息",
        "数值",
        "限值",
    ]
    assert spy.headers == 1 and spy.changed == [(0, 0)]
    with pytest.raises(ValueError):
        model.set_language("fr")


def test_priority_colour_maps_hmi_priority_to_theme() -> None:
    assert priority_colour(Priority.URGENT) == theme.PRIORITY[1]
    assert priority_colour(Priority.HIGH) == theme.PRIORITY[2]
    assert priority_colour(Priority.MEDIUM) == theme.PRIORITY[3]
    assert priority_colour(Priority.LOW) == theme.PRIORITY[4]


def test_colours_by_state(qtbot: QtBot) -> None:
    model = AlarmTableModel()
    model.reset(
        [
            alarm("U", priority=Priority.URGENT),
            alarm("K", priority=Priority.URGENT, state=AlarmState.ACKED),
            alarm("R", priority=Priority.LOW, state=AlarmState.RTN_UNACK),
            alarm("S", priority=Priority.URGENT, state=AlarmState.SHELVED),
        ]
    )
    bg, fg = Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.ForegroundRole
    assert model.index(0, COL_MESSAGE).data(bg) == theme.PRIORITY[1]
    assert model.index(1, COL_MESSAGE).data(bg) == theme.BACKGROUND  # calm grey
    assert model.index(2, COL_MESSAGE).data(bg) == theme.PRIORITY[4]
    assert model.index(3, COL_MESSAGE).data(bg) is None
    assert model.index(3, COL_MESSAGE).data(fg) == theme.TEXT_DIM
    assert model.index(0, COL_MESSAGE).data(fg) == theme.TEXT


def make_filter(qtbot: QtBot, views: list[AlarmView]) -> tuple[AlarmTableModel, AlarmFilter]:
    model = AlarmTableModel()
    model.reset(views)
    proxy = AlarmFilter()
    proxy.setSourceModel(model)
    return model, proxy


def test_filter_by_area_priority_state_and_text(qtbot: QtBot) -> None:
    model, proxy = make_filter(
        qtbot,
        [
            alarm("HS1.TT101", area="HS1", priority=Priority.URGENT),
            alarm("HS1.PT102", area="HS1", priority=Priority.LOW, state=AlarmState.ACKED),
            alarm("SS1.FT201", area="SS1", priority=Priority.HIGH, state=AlarmState.SHELVED),
        ],
    )
    assert proxy.rowCount() == 3
    proxy.set_areas({"SS1"})
    assert tags(proxy) == ["SS1.FT201"]
    proxy.set_areas(set())
    proxy.set_min_priority(Priority.HIGH)
    assert set(tags(proxy)) == {"HS1.TT101", "SS1.FT201"}
    proxy.set_min_priority(Priority.LOW)
    proxy.set_states({AlarmState.ACKED, AlarmState.SHELVED})
    assert set(tags(proxy)) == {"HS1.PT102", "SS1.FT201"}
    proxy.set_states(set())
    proxy.set_text("tt1")
    assert tags(proxy) == ["HS1.TT101"]
    proxy.set_text("ABOVE")  # the message, any case
    assert proxy.rowCount() == 3
    model.set_language("zh_CN")
    assert proxy.rowCount() == 0  # the message shown is now Chinese
    proxy.set_text("限值")
    assert proxy.rowCount() == 3
    # a filtered-out alarm that changes to match appears
    proxy.set_text("")
    proxy.set_areas({"HS2"})
    model.apply([alarm("HS1.TT101", area="HS2", priority=Priority.URGENT)])
    assert tags(proxy) == ["HS1.TT101"]


def test_default_order_priority_then_newest(qtbot: QtBot) -> None:
    _model, proxy = make_filter(
        qtbot,
        [
            alarm("low_old", priority=Priority.LOW, since=T0),
            alarm("urgent_old", priority=Priority.URGENT, since=T0),
            alarm("high_new", priority=Priority.HIGH, since=T0 + 20),
            alarm("urgent_new", priority=Priority.URGENT, since=T0 + 10),
            alarm("low_new", priority=Priority.LOW, since=T0 + 30),
        ],
    )
    assert tags(proxy) == ["urgent_new", "urgent_old", "high_new", "low_new", "low_old"]
    assert proxy.sortRole() == SortRole
    # a new urgent alarm goes to the top as it arrives
    _model.apply([alarm("urgent_newest", priority=Priority.URGENT, since=T0 + 40)])
    assert tags(proxy)[0] == "urgent_newest"
    # sorting another column uses the raw key (time ascending: oldest first)
    proxy.sort(COL_TIME, Qt.SortOrder.AscendingOrder)
    assert [proxy.index(r, COL_TIME).data(SortRole) for r in range(proxy.rowCount())] == sorted(
        [T0, T0, T0 + 10, T0 + 20, T0 + 30, T0 + 40]
    )
    proxy.sort(COL_AREA, Qt.SortOrder.AscendingOrder)
    assert proxy.rowCount() == 6


def test_sort_role_gives_raw_values(qtbot: QtBot) -> None:
    model = AlarmTableModel()
    model.reset([alarm("A", priority=Priority.HIGH, since=T0 + 5)])
    assert model.index(0, COL_PRIORITY).data(SortRole) == 3
    assert model.index(0, COL_TIME).data(SortRole) == T0 + 5


def test_five_thousand_alarms_in_one_batch(qtbot: QtBot) -> None:
    model = AlarmTableModel()
    proxy = AlarmFilter()
    proxy.setSourceModel(model)
    model.reset([])
    spy = Spy(model)
    views = [
        alarm(f"T{i:05d}", priority=Priority(1 + i % 4), since=T0 + i, area=f"A{i % 7}")
        for i in range(5000)
    ]
    model.apply(views)
    assert model.rowCount() == 5000
    assert proxy.rowCount() == 5000
    assert spy.inserted == [(0, 4999)] and spy.resets == 0
    assert proxy.index(0, COL_PRIORITY).data(SortRole) == int(Priority.URGENT)
    assert model.rowCount(model.index(0, 0)) == 0 and model.rowCount(QModelIndex()) == 5000
    # the same batch again, one alarm changed: one row repainted
    model.apply([replace(v, value=1.0) if v.tag == "T00042" else v for v in views])
    assert len(spy.changed) == 1

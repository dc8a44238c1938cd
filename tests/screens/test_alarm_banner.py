"""Alarm banner and horn: counts per priority, the newest unacknowledged alarm and its Ack, the
click that opens the panel, and when the horn sounds, repeats and stops."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest
from PySide6.QtCore import QPoint, Qt
from pytestqt.qtbot import QtBot

from hmi.alarms.engine import PermissionDenied
from hmi.client import AlarmState, Priority, Session
from screens import i18n, theme
from screens.alarms import AlarmBanner, Horn
from screens.context import AppContext
from screens.refresh import Refresher
from tests.screens.test_alarm_panel import T0, USER, VIEWER, FakeClient, FakeSession, alarm

URGENT, HIGH, MEDIUM, LOW = Priority.URGENT, Priority.HIGH, Priority.MEDIUM, Priority.LOW
UNACK, ACKED, RTN = AlarmState.UNACK, AlarmState.ACKED, AlarmState.RTN_UNACK


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    i18n.set_language("en")
    yield
    i18n.set_language("en")


def make(
    qtbot: QtBot, session: FakeSession | None = None, *, refresher: bool = False
) -> tuple[AlarmBanner, FakeClient, AppContext]:
    client = FakeClient()
    fresh = Refresher(cast(Any, client), interval_ms=100)
    context = AppContext(cast(Any, client), fresh)
    context.set_session(cast(Session, session or FakeSession()))
    banner = AlarmBanner(context, horn=Horn(player=lambda: None))
    qtbot.addWidget(banner)
    banner.resize(1000, 40)
    banner.show()
    if refresher:
        fresh.subscribe_alarms(banner.apply_alarms)
        fresh.start()
    return banner, client, context


def test_counts_per_priority_and_the_newest_unacknowledged(qtbot: QtBot) -> None:
    banner, _, _ = make(qtbot)
    assert banner.text.text() == "No unacknowledged alarms"
    assert not banner.ack.isEnabled()
    banner.apply_alarms(
        [
            alarm("HS1.TT101", priority=URGENT, since=T0 + 1),
            alarm("HS1.PT102", priority=HIGH, state=ACKED, since=T0 + 9),
            alarm("SS1.TT301", priority=HIGH, since=T0 + 5),
            alarm("SS2.TT301", priority=HIGH, state=RTN, since=T0 + 3),
            alarm("GS1.PT201", priority=MEDIUM, state=AlarmState.SHELVED, since=T0 + 20),
        ]
    )
    assert banner.counts == {URGENT: (1, 1), HIGH: (2, 2), MEDIUM: (0, 0), LOW: (0, 0)}
    assert banner.count_labels[HIGH].text() == "High 2/2"
    assert theme.PRIORITY[2].name() in banner.count_labels[HIGH].styleSheet()
    assert banner.count_labels[LOW].styleSheet() == "", "no colour without an unacked alarm"
    # the newest unacknowledged: not the acked or shelved ones, even if newer
    assert banner.newest is not None and banner.newest.id == "SS1.TT301.hi"
    assert banner.tag.text() == "SS1.TT301" and banner.text.text() == "SS1.TT301 high"
    assert banner.time.text() != ""
    banner.apply_alarms([alarm("SS1.TT301", priority=HIGH, state=AlarmState.NORMAL)])
    assert banner.newest is not None and banner.newest.id == "SS2.TT301.hi"
    assert banner.counts[HIGH] == (1, 1)
    i18n.set_language("zh_CN")
    assert banner.text.text() == "SS2.TT301 过高"
    assert banner.count_labels[URGENT].text() == "紧急 1/1"


def test_ack_acknowledges_exactly_the_newest_and_needs_the_permission(qtbot: QtBot) -> None:
    banner, client, context = make(qtbot)
    banner.apply_alarms(
        [alarm("HS1.TT101", priority=URGENT, since=T0), alarm("SS1.TT301", since=T0 + 1)]
    )
    qtbot.mouseClick(banner.ack, Qt.MouseButton.LeftButton)
    assert client.requests == [("ack", USER, ["SS1.TT301.hi"], "")]
    context.set_session(cast(Session, FakeSession("zhao.lei", {"acknowledge": {"SS2"}})))
    assert not banner.ack.isEnabled(), "no permission in HS1"
    context.set_session(cast(Session, VIEWER))
    assert not banner.ack.isEnabled()
    context.set_session(None)
    assert not banner.ack.isEnabled()
    # the core refuses: the banner says so instead of the message
    context.set_session(cast(Session, FakeSession()))
    client.refuse = PermissionDenied("li.wei may not acknowledge in area 'HS1'")
    qtbot.mouseClick(banner.ack, Qt.MouseButton.LeftButton)
    assert banner.text.text().startswith("Refused: li.wei may not acknowledge")


def test_a_click_on_the_banner_opens_the_alarms_but_a_button_does_not(qtbot: QtBot) -> None:
    banner, _, _ = make(qtbot)
    banner.apply_alarms([alarm("SS1.TT301")])
    with qtbot.waitSignal(banner.open_alarms, timeout=1000):
        qtbot.mouseClick(banner.text, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(banner.open_alarms, timeout=1000):
        qtbot.mouseClick(banner, Qt.MouseButton.LeftButton, pos=QPoint(2, 2))
    opened: list[bool] = []
    banner.open_alarms.connect(lambda: opened.append(True))
    qtbot.mouseClick(banner.ack, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(banner.silence, Qt.MouseButton.LeftButton)
    assert opened == []


def test_the_banner_follows_the_refresher(qtbot: QtBot) -> None:
    banner, client, _ = make(qtbot, refresher=True)
    client.pending = [alarm("HS1.TT101", priority=URGENT)]
    qtbot.waitUntil(lambda: banner.counts[URGENT] == (1, 1), timeout=2000)
    assert banner.horn.sounding
    client.pending = [alarm("HS1.TT101", priority=URGENT, state=ACKED)]
    qtbot.waitUntil(lambda: banner.counts[URGENT] == (0, 1), timeout=2000)
    assert not banner.horn.sounding
    banner.context.refresher.stop()


# ---- the horn ----------------------------------------------------------------------------------


def horn(qtbot: QtBot, repeat_ms: int = 1000) -> tuple[Horn, list[bool], list[int]]:
    blasts: list[int] = []
    h = Horn(repeat_ms=repeat_ms, player=lambda: blasts.append(1))
    changes: list[bool] = []
    h.sounding_changed.connect(changes.append)
    return h, changes, blasts


def test_the_horn_sounds_for_new_high_and_urgent_alarms_only(qtbot: QtBot) -> None:
    h, changes, blasts = horn(qtbot)
    h.apply_alarms([alarm("A", priority=LOW), alarm("B", priority=MEDIUM)])
    assert not h.sounding and blasts == []
    h.apply_alarms([alarm("C", priority=HIGH, state=ACKED)])
    assert not h.sounding, "acknowledged already"
    h.apply_alarms([alarm("D", priority=HIGH)])
    assert h.sounding and changes == [True] and len(blasts) == 1
    h.apply_alarms([alarm("E", priority=URGENT)])
    assert h.ringing_for == {"D.hi", "E.hi"} and changes == [True]
    h.stop()


def test_silence_stops_the_horn_until_the_next_arrival(qtbot: QtBot) -> None:
    h, changes, _ = horn(qtbot)
    h.apply_alarms([alarm("D", priority=HIGH)])
    h.silence()
    assert not h.sounding and changes == [True, False]
    # the same alarm, still unacknowledged, changing value: not a new arrival
    h.apply_alarms([alarm("D", priority=HIGH, since=T0 + 5)])
    assert not h.sounding
    h.apply_alarms([alarm("D", priority=HIGH, state=RTN, since=T0 + 6)])
    assert not h.sounding, "returning to normal is no arrival"
    h.apply_alarms([alarm("D", priority=HIGH, since=T0 + 7)])
    assert h.sounding, "active again: a new arrival"
    h.silence()
    h.apply_alarms([alarm("F", priority=URGENT)])
    assert h.sounding and h.ringing_for == {"F.hi"}
    h.stop()


def test_acknowledging_every_ringing_alarm_stops_the_horn(qtbot: QtBot) -> None:
    h, changes, _ = horn(qtbot)
    h.apply_alarms([alarm("D", priority=HIGH), alarm("E", priority=URGENT)])
    h.apply_alarms([alarm("D", priority=HIGH, state=RTN)])
    assert h.sounding, "cleared but still unacknowledged"
    h.apply_alarms([alarm("D", priority=HIGH, state=AlarmState.NORMAL)])
    assert h.sounding, "E still waits"
    h.apply_alarms([alarm("E", priority=URGENT, state=ACKED)])
    assert not h.sounding and changes == [True, False]
    h.apply_alarms([alarm("G", priority=HIGH, state=AlarmState.SHELVED)])
    assert not h.sounding, "a shelved alarm is hidden"


def test_the_horn_repeats_while_sounding_and_the_silence_button_shows_it(qtbot: QtBot) -> None:
    _, _, context = make(qtbot)
    blasts: list[int] = []
    h = Horn(repeat_ms=20, player=lambda: blasts.append(1))
    banner = AlarmBanner(context, horn=h)
    qtbot.addWidget(banner)
    banner.apply_alarms([alarm("HS1.TT101", priority=URGENT)])
    assert banner.silence.property("sounding") is True
    assert theme.PRIORITY[1].name() in banner.silence.styleSheet()
    qtbot.waitUntil(lambda: len(blasts) >= 3, timeout=2000)
    qtbot.mouseClick(banner.silence, Qt.MouseButton.LeftButton)
    assert not h.sounding and banner.silence.property("sounding") is False
    assert banner.silence.styleSheet() == ""

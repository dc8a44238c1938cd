"""Alarm panel: filters, acknowledge (selected, all visible) with a comment, shelve, out of
service, permissions (buttons and a refusal by the core), the response workflow, the journal and
its export; and, against the simulator, a fault's alarm through banner, panel, ack and journal."""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import pytest
from openpyxl import load_workbook
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from hmi.alarms.engine import PermissionDenied
from hmi.alarms.model import Event, Transition
from hmi.alarms.response import AlarmResponse, Cause
from hmi.client import AlarmKind, AlarmState, AlarmView, LinkStats, Priority, Session
from hmi.tags import Value
from screens import i18n
from screens.alarms import AlarmBanner, AlarmPanel
from screens.alarms.active import ActiveAlarms
from screens.alarms.dialogs import ShelveDialog, TextDialog
from screens.alarms.journal import JOURNAL_LIMIT, time_range
from screens.alarms.model import COL_STATE, COL_TAG
from screens.context import AppContext
from screens.refresh import Refresher

T0 = 1_700_000_000.0
USER = "li.wei"


def alarm(
    tag: str,
    *,
    priority: Priority = Priority.MEDIUM,
    state: AlarmState = AlarmState.UNACK,
    area: str = "HS1",
    since: float = T0,
    kind: AlarmKind = AlarmKind.HI,
) -> AlarmView:
    return AlarmView(
        id=f"{tag}.{kind}",
        tag=tag,
        kind=kind,
        area=area,
        priority=priority,
        state=state,
        active=state in (AlarmState.UNACK, AlarmState.ACKED, AlarmState.SHELVED),
        acked=state is AlarmState.ACKED,
        message_en=f"{tag} high",
        message_zh=f"{tag} 过高",
        value=95.0,
        limit=90.0,
        since=since,
    )


def done(value: Any = None, error: BaseException | None = None) -> Future[Any]:
    future: Future[Any] = Future()
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
    return future


@dataclass
class FakeSession:
    """A person holding some permissions in some areas (`*`: every area)."""

    name: str = USER
    grants: dict[str, set[str]] = field(
        default_factory=lambda: {"acknowledge": {"*"}, "shelve": {"*"}}
    )

    def may(self, permission: str, area: str) -> bool:
        areas = self.grants.get(permission, set())
        return "*" in areas or area in areas

    def touch(self) -> None:
        pass


VIEWER = FakeSession("guest", {})


class FakeClient:
    """A RuntimeClient that serves the alarms a test builds and records every request."""

    project_name = "test"

    def __init__(self, alarms: list[AlarmView] | None = None) -> None:
        self.alarms = list(alarms or [])
        self.version = 0
        self.pending: list[AlarmView] = []
        self.requests: list[tuple[Any, ...]] = []
        self.refuse: BaseException | None = None  # every request fails with this
        self.journal: list[Transition] = []
        self.responses: list[AlarmResponse] = []
        self.causes = [
            Cause("SENSOR", "Sensor or transmitter fault", "传感器/变送器故障"),
            Cause("PROCESS", "Real process upset", "工艺异常"),
        ]

    # what a Refresher pulls
    def tag_defs(self) -> dict[str, Any]:
        return {}

    def snapshot(self) -> tuple[int, dict[str, Value]]:
        return 0, {}

    def changes_since(self, version: int) -> tuple[int, dict[str, Value]]:
        return version, {}

    def link_stats(self) -> dict[str, LinkStats]:
        return {}

    def active_alarms(self) -> list[AlarmView]:
        return list(self.alarms)

    def alarm_changes_since(self, version: int) -> tuple[int, list[AlarmView]]:
        batch, self.pending = self.pending, []
        if batch:
            self.version += 1
        return self.version, batch

    # requests
    def _answer(self, request: tuple[Any, ...], value: Any = None) -> Future[Any]:
        self.requests.append(request)
        return done(value, self.refuse)

    def acknowledge(self, who: Any, ids: Any, comment: str = "") -> Future[list[str]]:
        return self._answer(("ack", who.name, list(ids), comment), [])

    def shelve(
        self, who: Any, alarm_id: str, reason: str, duration: float, *, one_shot: bool = False
    ) -> Future[None]:
        return self._answer(("shelve", who.name, alarm_id, reason, duration))

    def unshelve(self, who: Any, alarm_id: str) -> Future[None]:
        return self._answer(("unshelve", who.name, alarm_id))

    def reset_alarm(self, who: Any, alarm_id: str) -> Future[None]:
        return self._answer(("reset", who.name, alarm_id))

    def remove_from_service(self, who: Any, alarm_id: str, reason: str) -> Future[None]:
        return self._answer(("out_of_service", who.name, alarm_id, reason))

    def return_to_service(self, who: Any, alarm_id: str) -> Future[None]:
        return self._answer(("return_to_service", who.name, alarm_id))

    def alarm_journal(
        self, start: float | None = None, end: float | None = None, **filters: Any
    ) -> Future[list[Transition]]:
        self.requests.append(("journal", start, end, filters))
        return done(list(self.journal))

    def alarm_responses(self, *args: Any, alarm: str | None = None, **_: Any) -> Future[Any]:
        return done([r for r in self.responses if alarm is None or r.alarm == alarm])

    def alarm_causes(self) -> Future[list[Cause]]:
        return done(list(self.causes))

    def dispatch(self, who: Any, response_id: int, to: str) -> Future[None]:
        self._step(response_id, dispatched_ts=T0 + 60, dispatched_to=to, dispatched_by=who.name)
        return self._answer(("dispatch", who.name, response_id, to))

    def record_cause(self, who: Any, response_id: int, code: str, note: str = "") -> Future[None]:
        self._step(response_id, cause=code, cause_ts=T0 + 120, cause_by=who.name)
        return self._answer(("cause", who.name, response_id, code, note))

    def close_response(self, who: Any, response_id: int, note: str = "") -> Future[None]:
        self._step(response_id, closed_ts=T0 + 180, closed_by=who.name, note=note)
        return self._answer(("close", who.name, response_id, note))

    def _step(self, response_id: int, **values: Any) -> None:
        if self.refuse is None:
            self.responses = [
                replace(r, **values) if r.id == response_id else r for r in self.responses
            ]

    def close(self) -> None:
        pass


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    i18n.set_language("en")
    yield
    i18n.set_language("en")


def make(
    qtbot: QtBot, alarms: list[AlarmView], session: FakeSession | None = None
) -> tuple[AlarmPanel, FakeClient, AppContext]:
    client = FakeClient(alarms)
    context = AppContext(cast(Any, client), Refresher(cast(Any, client)))
    context.set_session(cast(Session, session or FakeSession()))
    panel = AlarmPanel(context)
    qtbot.addWidget(panel)
    panel.resize(1200, 700)
    panel.show()
    panel.apply_alarms(alarms)
    return panel, client, context


def shown(active: ActiveAlarms, column: int = COL_TAG) -> list[str]:
    proxy = active.proxy
    return [proxy.index(r, column).data() for r in range(proxy.rowCount())]


def click_row(qtbot: QtBot, active: ActiveAlarms, tag: str, modifier: Any = None) -> None:
    row = shown(active).index(tag)
    rect = active.table.visualRect(active.proxy.index(row, COL_TAG))
    qtbot.mouseClick(
        active.table.viewport(),
        Qt.MouseButton.LeftButton,
        modifier or Qt.KeyboardModifier.NoModifier,
        rect.center(),
    )


def last(client: FakeClient) -> tuple[Any, ...]:
    """The last request the client received."""
    return client.requests[-1]


def ok(qtbot: QtBot, dialog: TextDialog | None) -> None:
    assert dialog is not None and dialog.isVisible()
    button = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


ALARMS = [
    alarm("HS1.TT101", priority=Priority.URGENT, area="HS1", since=T0 + 1),
    alarm("HS1.PT102", priority=Priority.HIGH, area="HS1", since=T0 + 2),
    alarm("SS1.TT301", priority=Priority.LOW, area="SS1", since=T0 + 3),
    alarm("SS2.ZA301", priority=Priority.HIGH, area="SS2", state=AlarmState.ACKED),
    alarm("GS1.PT201", priority=Priority.MEDIUM, area="GS1", state=AlarmState.SHELVED),
]


def test_filters_by_area_priority_state_and_text(qtbot: QtBot) -> None:
    panel, _, _ = make(qtbot, ALARMS)
    active = panel.active
    assert shown(active) == ["HS1.TT101", "HS1.PT102", "SS2.ZA301", "GS1.PT201", "SS1.TT301"]
    areas = [active.area.itemText(i) for i in range(active.area.count())]
    assert areas == ["All areas", "GS1", "HS1", "SS1", "SS2"]  # built from the alarms seen
    active.area.setCurrentIndex(active.area.findData("HS1"))
    assert shown(active) == ["HS1.TT101", "HS1.PT102"]
    active.area.setCurrentIndex(0)
    active.priority.setCurrentIndex(active.priority.findData(int(Priority.HIGH)))
    assert active.priority.currentText() == "High and above"
    assert shown(active) == ["HS1.TT101", "HS1.PT102", "SS2.ZA301"]
    active.state.setCurrentIndex(1)  # unacknowledged
    assert shown(active) == ["HS1.TT101", "HS1.PT102"]
    active.state.setCurrentIndex(0)
    active.priority.setCurrentIndex(0)
    qtbot.keyClicks(active.text, "pt")
    assert shown(active) == ["HS1.PT102", "GS1.PT201"]
    assert active.summary.text().startswith("2 of 5 alarms")
    # a new area arrives with a later batch: offered in both tabs' area filters
    panel.apply_alarms([alarm("SS4.TT301", area="SS4")])
    assert active.area.findData("SS4") > 0 and panel.journal.area.findData("SS4") > 0


def test_unacknowledged_rows_look_different_from_acknowledged(qtbot: QtBot) -> None:
    panel, _, _ = make(qtbot, ALARMS)
    proxy = panel.active.proxy
    rows = {proxy.index(r, COL_TAG).data(): r for r in range(proxy.rowCount())}
    unacked = proxy.index(rows["HS1.PT102"], COL_TAG)
    acked = proxy.index(rows["SS2.ZA301"], COL_TAG)
    assert unacked.data(Qt.ItemDataRole.FontRole).bold()
    assert acked.data(Qt.ItemDataRole.FontRole) is None
    assert unacked.data(Qt.ItemDataRole.BackgroundRole) != acked.data(
        Qt.ItemDataRole.BackgroundRole
    )


def test_acknowledge_selected_asks_for_a_comment_and_the_row_shows_acknowledged(
    qtbot: QtBot,
) -> None:
    panel, client, _ = make(qtbot, ALARMS)
    active = panel.active
    assert not active.ack.isEnabled(), "nothing selected"
    click_row(qtbot, active, "HS1.PT102")
    assert active.ack.isEnabled()
    qtbot.mouseClick(active.ack, Qt.MouseButton.LeftButton)
    assert client.requests == [], "nothing is sent before the dialog is answered"
    assert active.dialog is not None
    qtbot.keyClicks(active.dialog.text, "pump checked")
    ok(qtbot, active.dialog)
    assert client.requests == [("ack", USER, ["HS1.PT102.hi"], "pump checked")]
    assert active.message.text() == "1 alarms acknowledged."
    panel.apply_alarms([alarm("HS1.PT102", priority=Priority.HIGH, state=AlarmState.ACKED)])
    row = shown(active).index("HS1.PT102")
    assert active.proxy.index(row, COL_STATE).data() == "Acknowledged"


def test_cancelling_the_comment_sends_nothing(qtbot: QtBot) -> None:
    panel, client, _ = make(qtbot, ALARMS)
    click_row(qtbot, panel.active, "HS1.TT101")
    qtbot.mouseClick(panel.active.ack, Qt.MouseButton.LeftButton)
    dialog = panel.active.dialog
    assert dialog is not None
    qtbot.mouseClick(dialog.cancel, Qt.MouseButton.LeftButton)
    assert client.requests == []


def test_acknowledge_all_visible_passes_only_the_visible_unacknowledged(qtbot: QtBot) -> None:
    panel, client, _ = make(qtbot, ALARMS)
    active = panel.active
    active.area.setCurrentIndex(active.area.findData("HS1"))
    qtbot.mouseClick(active.ack_all, Qt.MouseButton.LeftButton)
    assert active.dialog is not None
    assert "2 alarms" in active.dialog.subject.text()
    ok(qtbot, active.dialog)  # no comment: it is optional
    assert client.requests == [("ack", USER, ["HS1.TT101.hi", "HS1.PT102.hi"], "")]


def test_shelve_dialog_passes_duration_and_a_required_reason(qtbot: QtBot) -> None:
    panel, client, _ = make(qtbot, ALARMS)
    active = panel.active
    click_row(qtbot, active, "SS1.TT301")
    qtbot.mouseClick(active.shelve, Qt.MouseButton.LeftButton)
    dialog = active.dialog
    assert isinstance(dialog, ShelveDialog)
    durations = [dialog.duration.itemText(i) for i in range(dialog.duration.count())]
    assert durations == ["15 min", "1 h", "4 h", "8 h"]  # 8 h: the engine's maximum
    assert not dialog.ok.isEnabled(), "a reason is required"
    dialog.duration.setCurrentIndex(2)
    qtbot.keyClicks(dialog.text, "sensor replaced tomorrow")
    ok(qtbot, dialog)
    assert client.requests == [
        ("shelve", USER, "SS1.TT301.hi", "sensor replaced tomorrow", 4 * 3600.0)
    ]
    assert active.message.text() == "Alarm shelved."


def test_unshelve_out_of_service_and_back(qtbot: QtBot) -> None:
    panel, client, _ = make(qtbot, ALARMS)
    active = panel.active
    click_row(qtbot, active, "GS1.PT201")  # shelved
    assert active.unshelve.isEnabled() and not active.shelve.isEnabled()
    qtbot.mouseClick(active.unshelve, Qt.MouseButton.LeftButton)
    assert last(client) == ("unshelve", USER, "GS1.PT201.hi")
    click_row(qtbot, active, "SS1.TT301")
    assert not active.return_to_service.isEnabled()
    qtbot.mouseClick(active.out_of_service, Qt.MouseButton.LeftButton)
    dialog = active.dialog
    assert dialog is not None and not dialog.ok.isEnabled()
    qtbot.keyClicks(dialog.text, "transmitter removed")
    ok(qtbot, dialog)
    assert last(client) == ("out_of_service", USER, "SS1.TT301.hi", "transmitter removed")
    panel.apply_alarms([alarm("SS1.TT301", area="SS1", state=AlarmState.OUT_OF_SERVICE)])
    assert active.return_to_service.isEnabled() and not active.out_of_service.isEnabled()
    qtbot.mouseClick(active.return_to_service, Qt.MouseButton.LeftButton)
    assert last(client) == ("return_to_service", USER, "SS1.TT301.hi")
    click_row(qtbot, active, "HS1.TT101")
    qtbot.mouseClick(active.reset, Qt.MouseButton.LeftButton)
    assert last(client) == ("reset", USER, "HS1.TT101.hi")


def test_every_button_is_disabled_for_a_viewer(qtbot: QtBot) -> None:
    panel, _, context = make(qtbot, ALARMS, VIEWER)
    active = panel.active
    for tag in ("HS1.PT102", "GS1.PT201", "SS2.ZA301"):
        click_row(qtbot, active, tag)
        assert active.selected()[0].tag == tag
        assert not any(b.isEnabled() for b in active.buttons()), tag
    # permission per area: acknowledge in SS2 only
    context.set_session(cast(Session, FakeSession("zhao.lei", {"acknowledge": {"SS1"}})))
    click_row(qtbot, active, "HS1.PT102")
    assert not active.ack.isEnabled()
    click_row(qtbot, active, "SS1.TT301")
    assert active.ack.isEnabled() and not active.shelve.isEnabled()
    assert active.ack_all.isEnabled()
    qtbot.mouseClick(active.ack_all, Qt.MouseButton.LeftButton)
    assert active.dialog is not None and "SS1.TT301" in active.dialog.subject.text()
    context.set_session(None)
    assert not any(b.isEnabled() for b in active.buttons())


def test_a_refusal_by_the_core_is_shown(qtbot: QtBot) -> None:
    panel, client, _ = make(qtbot, ALARMS)
    active = panel.active
    # the screen believes the person may; the core knows better (e.g. roles changed meanwhile)
    client.refuse = PermissionDenied(f"{USER} may not acknowledge in area 'HS1' (HS1.TT101.hi)")
    click_row(qtbot, active, "HS1.TT101")
    qtbot.mouseClick(active.ack, Qt.MouseButton.LeftButton)
    ok(qtbot, active.dialog)
    assert client.requests[-1][0] == "ack"
    assert active.message.text().startswith("Refused: li.wei may not acknowledge in area 'HS1'")
    assert active.message.property("error") is True
    client.refuse = None
    click_row(qtbot, active, "SS1.TT301")
    qtbot.mouseClick(active.reset, Qt.MouseButton.LeftButton)
    assert active.message.text() == "Alarm reset." and active.message.property("error") is False


def test_the_response_workflow_of_the_selected_alarm(qtbot: QtBot) -> None:
    acked = alarm("SS2.ZA301", priority=Priority.HIGH, area="SS2", state=AlarmState.ACKED)
    panel, client, _ = make(qtbot, [*ALARMS[:3], acked])
    client.responses = [
        AlarmResponse(7, "SS2.ZA301.hi", T0, acked_ts=T0 + 30, acked_by="zhao.lei"),
    ]
    box = panel.active.response
    assert "Select one alarm" in box.summary.text()
    click_row(qtbot, panel.active, "SS2.ZA301")
    assert "acknowledged" in box.summary.text() and "zhao.lei" in box.summary.text()
    assert not box.dispatch.isEnabled(), "dispatch needs a name"
    assert not box.close_button.isEnabled(), "closing needs a cause"
    qtbot.keyClicks(box.dispatch_to, "Wang (field crew 2)")
    qtbot.mouseClick(box.dispatch, Qt.MouseButton.LeftButton)
    assert last(client) == ("dispatch", USER, 7, "Wang (field crew 2)")
    assert "dispatched to Wang (field crew 2)" in box.summary.text()
    causes = [box.cause.itemText(i) for i in range(box.cause.count())]
    assert causes == ["Sensor or transmitter fault", "Real process upset"]
    box.cause.setCurrentIndex(1)
    qtbot.keyClicks(box.cause_note, "valve stem seized")
    qtbot.mouseClick(box.record_cause, Qt.MouseButton.LeftButton)
    assert last(client) == ("cause", USER, 7, "PROCESS", "valve stem seized")
    assert "cause: Real process upset" in box.summary.text()
    assert box.close_button.isEnabled()
    qtbot.keyClicks(box.close_note, "valve freed")
    qtbot.mouseClick(box.close_button, Qt.MouseButton.LeftButton)
    assert last(client) == ("close", USER, 7, "valve freed")
    assert "closed" in box.summary.text()
    assert not any(b.isEnabled() for b in (box.dispatch, box.record_cause, box.close_button)), (
        "a closed response does not change"
    )
    assert panel.active.message.text() == "Response closed."
    i18n.set_language("zh_CN")
    assert [box.cause.itemText(i) for i in range(box.cause.count())] == [
        "传感器/变送器故障",
        "工艺异常",
    ]


def test_a_refused_workflow_step_is_shown(qtbot: QtBot) -> None:
    acked = alarm("SS2.ZA301", area="SS2", state=AlarmState.ACKED)
    panel, client, _ = make(qtbot, [acked])
    client.responses = [AlarmResponse(3, acked.id, T0, acked_ts=T0 + 1, acked_by=USER)]
    click_row(qtbot, panel.active, "SS2.ZA301")
    client.refuse = ValueError("SS2.ZA301.hi: closing needs a recorded cause")
    qtbot.mouseClick(panel.active.response.record_cause, Qt.MouseButton.LeftButton)
    assert "closing needs a recorded cause" in panel.active.message.text()
    assert panel.active.message.property("error") is True


def transition(
    alarm_id: str, event: Event, ts: float, *, user: str = "", comment: str = ""
) -> Transition:
    tag = alarm_id.rsplit(".", 1)[0]
    return Transition(
        ts=ts,
        alarm=alarm_id,
        event=event,
        state=AlarmState.ACKED if event is Event.ACK else AlarmState.UNACK,
        priority=Priority.HIGH,
        area=tag.split(".")[0],
        tag=tag,
        value=95.5 if event is Event.ACTIVATE else None,
        limit=90.0 if event is Event.ACTIVATE else None,
        user=user,
        comment=comment,
    )


JOURNAL = [
    transition("HS1.TT101.hi", Event.ACTIVATE, T0),
    transition("SS1.TT301.lo", Event.ACTIVATE, T0 + 5),
    transition("HS1.TT101.hi", Event.ACK, T0 + 60, user=USER, comment="burner checked, 正常"),
]


def test_the_journal_loads_asynchronously_with_the_filters(qtbot: QtBot) -> None:
    panel, client, _ = make(qtbot, ALARMS)
    client.journal = list(JOURNAL)
    journal = panel.journal
    panel.setCurrentWidget(journal)  # the first look loads the default range
    qtbot.waitUntil(lambda: journal.model.rowCount() == 3, timeout=2000)
    name, start, end, filters = client.requests[-1]
    assert name == "journal" and filters == {"limit": JOURNAL_LIMIT}
    assert end - start == pytest.approx(3600.0, abs=2)
    assert journal.status.text() == "3 entries"
    # newest first; the ack row shows who and why
    assert journal.proxy.index(0, 1).data() == "Acknowledged"
    assert journal.proxy.index(0, 9).data() == USER
    journal.range.setCurrentIndex(journal.range.findData("7d"))
    journal.priority.setCurrentIndex(journal.priority.findData(int(Priority.HIGH)))
    journal.area.setCurrentIndex(journal.area.findData("HS1"))
    journal.event_kind.setCurrentIndex(journal.event_kind.findData(Event.ACK))
    qtbot.keyClicks(journal.tag, "tt101")
    qtbot.mouseClick(journal.search, Qt.MouseButton.LeftButton)
    name, start, end, filters = client.requests[-1]
    assert end - start == pytest.approx(7 * 86400.0, abs=2)
    assert filters == {
        "limit": JOURNAL_LIMIT,
        "priority": Priority.HIGH,
        "areas": ["HS1"],
        "events": [Event.ACK],
    }
    # the fake ignores the filters; the tag text narrows by substring on the screen
    qtbot.waitUntil(lambda: journal.model.rowCount() == 2, timeout=2000)


def test_the_shift_range_starts_at_the_last_shift_change() -> None:
    from datetime import datetime

    now = datetime(2026, 11, 20, 13, 45).timestamp()
    start, end = time_range("shift", now)
    assert datetime.fromtimestamp(start) == datetime(2026, 11, 20, 8, 0)
    assert end > now
    with pytest.raises(ValueError, match="unknown time range"):
        time_range("fortnight", now)


def test_journal_export_writes_csv_and_xlsx(qtbot: QtBot, tmp_path: Path) -> None:
    panel, client, _ = make(qtbot, ALARMS)
    client.journal = list(JOURNAL)
    journal = panel.journal
    assert not journal.export_csv.isEnabled(), "nothing to export yet"
    journal.load()
    qtbot.waitUntil(journal.export_csv.isEnabled, timeout=2000)

    qtbot.mouseClick(journal.export_xlsx, Qt.MouseButton.LeftButton)
    assert journal.dialog is not None and journal.dialog.isVisible()
    journal.dialog.reject()
    xlsx = tmp_path / "journal.xlsx"
    journal.export(xlsx)
    sheet = load_workbook(xlsx).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("Time", "Event", "Priority")
    assert len(rows) == 4
    newest = rows[1]
    assert newest[1] == "Acknowledged" and newest[9] == USER
    assert newest[10] == "burner checked, 正常"
    assert abs(newest[0].timestamp() - (T0 + 60)) < 1  # a real date-time, not text
    oldest = rows[3]
    assert oldest[7] == 95.5 and oldest[8] == 90.0  # numbers stay numbers
    assert journal.status.text().startswith("3 entries written to")

    path = tmp_path / "journal.csv"
    i18n.set_language("zh_CN")
    journal.export(path)
    with path.open(encoding="utf-8-sig", newline="") as f:
        lines = list(csv.reader(f))
    assert lines[0][:3] == ["时间", "事件", "优先级"]
    assert [line[1] for line in lines[1:]] == ["确认", "报警", "报警"]
    assert lines[1][10] == "burner checked, 正常"


def test_chinese_texts_everywhere_and_none_missing(qtbot: QtBot) -> None:
    panel, client, _ = make(qtbot, ALARMS)
    client.responses = [AlarmResponse(1, "HS1.TT101.hi", T0)]
    banner = AlarmBanner(panel.context)
    qtbot.addWidget(banner)
    banner.apply_alarms(ALARMS)
    click_row(qtbot, panel.active, "HS1.TT101")
    i18n.clear_missing()
    i18n.set_language("zh_CN")
    panel.setCurrentWidget(panel.journal)
    client.journal = list(JOURNAL)
    panel.journal.load()
    qtbot.mouseClick(panel.active.shelve, Qt.MouseButton.LeftButton)
    assert panel.active.ack.text() == "确认"
    assert panel.tabText(0) == "当前报警"
    assert panel.active.model.headerData(0, Qt.Orientation.Horizontal) == "优先级"
    assert banner.silence.text() == "消音"
    dialog = panel.active.dialog
    assert isinstance(dialog, ShelveDialog)
    assert dialog.duration.itemText(0) == "15 分钟"
    for event in Event:
        panel.journal.event_kind.findData(event)
    assert i18n.missing() == set()


# ---- against the simulator -------------------------------------------------------------------


@pytest.mark.slow
def test_a_fault_alarms_in_banner_and_panel_and_its_ack_is_journaled(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from drivers.sim.faults import Offline
    from hmi.client import connect
    from hmi.security.permissions import parse_grants
    from tests.conftest import demo_copy

    monkeypatch.setenv("CONDUIT_HOME", str(tmp_path / "home"))
    project = demo_copy(tmp_path)
    devices = project / "devices.toml"
    devices.write_text(  # the SS4 link's offline alarm (HIGH) after 2 s instead of 30 s
        devices.read_text().replace(
            'simulate = "heating/SS4"\n',
            'simulate = "heating/SS4"\nalarms = { offline_after = "2s" }\n',
        )
    )
    client = connect(project, simulate=True)
    refresher: Refresher | None = None
    try:
        station = client.station
        assert station.users is not None and station.simulation is not None
        users = station.users
        users.add_user("admin", "Plant-Boss-2026!x", parse_grants("administrator"), by="test")
        users.add_user(USER, "Valve-Shift-A-77", parse_grants("operator"), by="test")
        session = client.login(USER, "Valve-Shift-A-77").result(10)
        refresher = Refresher(client)  # the normal rate
        context = AppContext(client, refresher)
        context.set_session(session)
        panel, banner = AlarmPanel(context), AlarmBanner(context)
        qtbot.addWidget(panel)
        qtbot.addWidget(banner)
        panel.show()
        banner.show()
        appeared: dict[str, float] = {}

        def note_rows(*_: Any) -> None:
            for view in panel.active.visible():
                appeared.setdefault(view.id, time.time())

        panel.active.proxy.rowsInserted.connect(note_rows)
        refresher.subscribe_alarms(panel.apply_alarms)
        refresher.subscribe_alarms(banner.apply_alarms)
        refresher.start()
        online = "_diag.PLC_SS4.online"
        qtbot.waitUntil(lambda: station.runtime.store.get(online).value is True, timeout=20_000)
        banner.horn.silence()  # whatever a slow start raised: the fault's alarm must sound anew

        offline = "_diag.PLC_SS4.online.offline"
        heating = station.simulation.heating
        assert heating is not None
        station.simulation.call(heating.plant.faults.add, Offline("SS4"))
        try:
            qtbot.waitUntil(lambda: offline in appeared, timeout=30_000)
            qtbot.waitUntil(
                lambda: offline in [v.id for v in banner.unacknowledged()], timeout=2000
            )
            view = panel.active.model.find(offline)
            assert view is not None and view.priority is Priority.HIGH and view.since is not None
            delay = appeared[offline] - view.since
            assert 0 <= delay < 1.0, f"shown {delay:.2f} s after the scan that raised it"
            assert banner.counts[Priority.HIGH][0] >= 1
            newest = banner.unacknowledged()[0]  # a slow start may raise others meanwhile
            assert banner.newest == newest and banner.tag.text() == newest.tag
            assert offline in banner.horn.ringing_for
            assert banner.silence.property("sounding") is True
            qtbot.mouseClick(banner.silence, Qt.MouseButton.LeftButton)
            assert not banner.horn.sounding and banner.silence.property("sounding") is False

            assert panel.active.select(offline)
            qtbot.mouseClick(panel.active.ack, Qt.MouseButton.LeftButton)
            dialog = panel.active.dialog
            assert dialog is not None
            qtbot.keyClicks(dialog.text, "SS4 link checked")
            ok(qtbot, dialog)

            def acked() -> bool:
                found = panel.active.model.find(offline)
                return found is not None and found.state is AlarmState.ACKED

            qtbot.waitUntil(acked, timeout=5000)
            row = [v.id for v in panel.active.visible()].index(offline)
            assert panel.active.proxy.index(row, COL_STATE).data() == "Acknowledged"
            assert panel.active.message.text() == "1 alarms acknowledged."
            assert station.journal is not None and station.journal.flush()
            acks = client.alarm_journal(alarm=offline, events=[Event.ACK]).result(10)
            assert [(t.user, t.comment) for t in acks] == [(USER, "SS4 link checked")]

            assert offline not in banner.horn.ringing_for
        finally:
            station.simulation.call(heating.plant.faults.remove, "offline:SS4")
    finally:
        if refresher is not None:
            refresher.stop()
        client.close()

"""Alarms through RuntimeClient against a station polling a real Modbus server: pull changes,
acknowledge, shelve, answer (dispatch, cause, close), edit a limit into the project files."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from drivers.modbus.codec import encode
from hmi.alarms.engine import ACKNOWLEDGE, EDIT_LIMITS, SHELVE, PermissionDenied, RequestRefused
from hmi.alarms.model import AlarmState, Event
from hmi.alarms.response import DEFAULT_CAUSES, ResponseError
from hmi.audit.query import query_audit
from hmi.client import InProcessClient
from hmi.project import load_project
from hmi.station import Station
from tests.conftest import LoopThread, wait_until
from tests.drivers.conftest import ModbusTestServer
from tests.hmi.test_cli_alarms import HOT
from tests.hmi.test_runtime import write_project

ALARM = "S.HOT.hi"


@dataclass
class Person:
    name: str
    permissions: dict[str, set[str]] = field(default_factory=dict)

    def may(self, permission: str, area: str) -> bool:
        return area in self.permissions.get(permission, set())


OPERATOR = Person("li.wei", {ACKNOWLEDGE: {"S"}, SHELVE: {"S"}})
ENGINEER = Person("zhang.min", {EDIT_LIMITS: {"S"}})
VIEWER = Person("guest")


@pytest.fixture
def client(
    tmp_path: Path, plc: ModbusTestServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[InProcessClient]:
    monkeypatch.setenv("CONDUIT_HOME", str(tmp_path / "home"))
    (tmp_path / "p" / "tags").mkdir(parents=True)
    folder = write_project(tmp_path / "p", plc.port)
    (folder / "tags" / "hot.toml").write_text(HOT, encoding="utf-8")
    station = Station(load_project(folder))
    station.start()
    client = InProcessClient(station)
    yield client
    client.close()


def test_pull_acknowledge_and_answer_an_alarm(client: InProcessClient) -> None:
    wait_until(lambda: any(v.id == ALARM for v in client.active_alarms()), 10, "alarm active")
    version, changed = client.alarm_changes_since(0)
    assert [v.id for v in changed] == [ALARM] and changed[0].state is AlarmState.UNACK
    assert client.alarm_changes_since(version) == (version, [])
    with pytest.raises(PermissionDenied):
        client.acknowledge(VIEWER, [ALARM], "looked").result(5)
    assert client.acknowledge(OPERATOR, [ALARM], "field check ordered").result(5) == []
    assert client.active_alarms()[0].state is AlarmState.ACKED
    station = client.station
    assert station.journal is not None and station.journal.flush(5)
    (response,) = client.alarm_responses(alarm=ALARM).result(5)
    assert response.acked_by == "li.wei", "the response record follows the journal"
    assert {c.code for c in client.alarm_causes().result(5)} == {c for c, _, _ in DEFAULT_CAUSES}
    with pytest.raises(PermissionDenied):
        client.dispatch(VIEWER, response.id, "Wang").result(5)
    with pytest.raises(ResponseError, match="record a cause before closing"):
        client.close_response(OPERATOR, response.id).result(5)
    client.dispatch(OPERATOR, response.id, "Wang (field crew 2)").result(5)
    client.record_cause(OPERATOR, response.id, "SENSOR", "TT1 cable loose").result(5)
    client.close_response(OPERATOR, response.id).result(5)
    (done,) = client.alarm_responses(alarm=ALARM).result(5)
    assert (done.dispatched_to, done.cause, done.closed_by) == (
        "Wang (field crew 2)",
        "SENSOR",
        "li.wei",
    )
    assert station.database is not None
    (audited,) = query_audit(station.database, action="alarm.ack")
    assert (audited.user, audited.target, audited.reason) == (
        "li.wei",
        ALARM,
        "field check ordered",
    )
    journal = client.alarm_journal(alarm=ALARM).result(5)
    assert [(t.event, t.user, t.comment) for t in journal] == [
        (Event.ACTIVATE, "", ""),
        (Event.ACK, "li.wei", "field check ordered"),
    ]


def test_shelve_and_edit_a_limit_into_the_project(client: InProcessClient) -> None:
    wait_until(lambda: any(v.id == ALARM for v in client.active_alarms()), 10, "alarm active")
    client.shelve(OPERATOR, ALARM, "transmitter being replaced", 600).result(5)
    view = client.active_alarms()[0]
    assert view.state is AlarmState.SHELVED and view.shelved_by == "li.wei"
    client.unshelve(OPERATOR, ALARM).result(5)
    with pytest.raises(PermissionDenied):
        client.edit_alarm(OPERATOR, ALARM, "limit", 80).result(5)
    client.edit_alarm(ENGINEER, ALARM, "limit", 80, "new transmitter range").result(5)
    # 72.5 is below the new limit: the alarm returns at once (unacknowledged)
    assert client.active_alarms()[0].state is AlarmState.RTN_UNACK
    root = client.station.project.root
    assert load_project(root).alarms[ALARM].limit == 80
    assert client.station.journal is not None and client.station.journal.flush(5)
    (edit,) = [t for t in client.alarm_journal(alarm=ALARM).result(5) if t.event is Event.EDIT]
    assert edit.user == "zhang.min" and edit.comment == "limit: 50 -> 80 (new transmitter range)"
    assert client.station.database is not None
    (audited,) = query_audit(client.station.database, action="limit.edit")
    assert (audited.user, audited.old, audited.new) == ("zhang.min", "limit=50", "limit=80")
    shelved = query_audit(client.station.database, action="alarm.")
    assert [r.action for r in shelved] == ["alarm.shelve", "alarm.unshelve"]


def test_a_locked_database_refuses_acks_and_raises_a_system_alarm(
    client: InProcessClient, plc: ModbusTestServer, peer_loop: LoopThread
) -> None:
    import sqlite3
    import time

    station = client.station
    wait_until(lambda: any(v.id == ALARM for v in client.active_alarms()), 10, "alarm active")
    assert station.journal is not None and station.journal.flush(5)
    assert station.database is not None and station.database.url.database
    locker = sqlite3.connect(station.database.url.database, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # another process holding the database
    try:
        # the audit trail cannot record the acknowledgement: it is refused, nothing changes
        with pytest.raises(RequestRefused, match="audit trail could not record"):
            client.acknowledge(OPERATOR, [ALARM], "while locked").result(30)
        assert client.active_alarms()[0].state is AlarmState.UNACK
        # the plant goes on: the alarm clears, and its journal record waits in memory
        peer_loop.call(plc.set(1, "hr", 0, encode(20.0, "float32", "CDAB")))
        journal = station.journal
        wait_until(lambda: not journal.online, 30, "the journal notices")
        station.runtime.call(station.runtime.refresh_link_stats()).result(5)
        assert station.runtime.store.get("_diag.database.online").value is False
        assert station.runtime.store.get("_diag.database.journal_queue").value >= 1
        station.alarms.tick(time.time() + 11)  # its on-delay
        view = station.alarms.view("_diag.database.online.system")
        assert view.active and view.area == "HMI" and "journal" in view.message_en
    finally:
        locker.execute("COMMIT")
        locker.close()
    wait_until(lambda: journal.online and journal.queued() == 0, 30, "written after the lock")
    events = [t.event for t in journal.query(alarm=ALARM)]
    assert events == [Event.ACTIVATE, Event.CLEAR], "nothing lost, the refused ack not there"
    station.runtime.call(station.runtime.refresh_link_stats()).result(5)
    assert station.runtime.store.get("_diag.database.online").value is True
    assert query_audit(station.database, action="alarm.ack") == [], "refused: not audited"


def test_a_locked_screen_still_shows_alarms_but_acts_on_none(client: InProcessClient) -> None:
    from hmi.security.permissions import parse_grants

    station = client.station
    assert station.users is not None and station.auth is not None
    station.users.add_user("admin", "Root-Of-All-2026", parse_grants("administrator"), by="t")
    station.users.add_user("li.wei", "Night-Shift-Op-5", parse_grants("operator:S"), by="t")
    session = station.auth.login("li.wei", "Night-Shift-Op-5")
    wait_until(lambda: any(v.id == ALARM for v in client.active_alarms()), 10, "alarm active")
    station.auth.lock(session)  # the operator walked away (or the idle time ran out)
    assert [v.id for v in client.active_alarms()] == [ALARM], "the alarm is still shown"
    with pytest.raises(PermissionDenied):
        client.acknowledge(session, [ALARM], "from a locked screen").result(5)
    station.auth.unlock(session, "Night-Shift-Op-5")  # back quickly: the same person
    assert client.acknowledge(session, [ALARM], "back at the desk").result(5) == []
    assert client.active_alarms()[0].state is AlarmState.ACKED

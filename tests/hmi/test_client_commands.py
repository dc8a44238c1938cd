"""Logging in and commanding through RuntimeClient (the screens' door), against a Modbus station."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.modbus.codec import decode, encode
from hmi.client import InProcessClient
from hmi.commands.model import CommandRefused, Outcome
from hmi.project import load_project
from hmi.security.errors import AuthError
from hmi.security.permissions import parse_grants
from hmi.station import Station
from tests.conftest import LoopThread, wait_until
from tests.drivers.conftest import ModbusTestServer
from tests.hmi.test_cli_command import SETPOINT
from tests.hmi.test_runtime import write_project

OPERATOR, SECOND = ("li.wei", "Shift-Setpoint-42"), ("zhao.lei", "Next-Shift-Op-43")


def setpoint_station(
    tmp_path: Path, plc: ModbusTestServer, peer_loop: LoopThread, monkeypatch: pytest.MonkeyPatch
) -> Station:
    """A started station whose writable setpoint S.SP1 (55.0) is a register of `plc`."""
    monkeypatch.setenv("CONDUIT_HOME", str(tmp_path / "home"))
    (tmp_path / "p" / "tags").mkdir(parents=True)
    folder = write_project(tmp_path / "p", plc.port)
    (folder / "tags" / "sp.toml").write_text(SETPOINT, encoding="utf-8")
    peer_loop.call(plc.set(1, "hr", 10, encode(55.0, "float32", "CDAB")))
    station = Station(load_project(folder))
    station.start()
    return station


@pytest.fixture
def client(
    tmp_path: Path, plc: ModbusTestServer, peer_loop: LoopThread, monkeypatch: pytest.MonkeyPatch
) -> Iterator[InProcessClient]:
    station = setpoint_station(tmp_path, plc, peer_loop, monkeypatch)
    assert station.users is not None
    station.users.add_user("admin", "Root-Of-All-2026", parse_grants("administrator"), by="t")
    for name, password in (OPERATOR, SECOND):
        station.users.add_user(name, password, parse_grants("operator:S"), by="t")
    wait_until(lambda: station.runtime.store.get("S.SP1").good, 10, "setpoint read")
    client = InProcessClient(station)
    yield client
    client.close()


def test_login_select_confirm_operate_through_the_client(
    client: InProcessClient, plc: ModbusTestServer, peer_loop: LoopThread
) -> None:
    with pytest.raises(AuthError):
        client.login(OPERATOR[0], "not-the-password").result(5)
    session = client.login(*OPERATOR).result(5)
    selection = client.select(session, "S.SP1", 62.5).result(5)
    assert (selection.current, selection.unit, selection.critical) == (55.0, "°C", True)
    client.confirm(session, selection.id, OPERATOR[1]).result(5)
    result = client.operate(session, selection.id).result(15)
    assert result.outcome is Outcome.VERIFIED and result.readback == pytest.approx(62.5)
    assert decode(peer_loop.call(plc.get(1, "hr", 10, 2)), "float32", "CDAB") == 62.5
    # a refusal comes back through the future, and nothing is written
    other = client.login(*SECOND).result(5)
    mine = client.select(session, "S.SP1", 60.0).result(5)
    with pytest.raises(CommandRefused, match=r"belongs to li\.wei"):
        client.operate(other, mine.id).result(5)
    client.cancel(session, mine.id).result(5)
    # a locked session may only look; the same person unlocks; a shift change is one call
    client.lock(session).result(5)
    with pytest.raises(CommandRefused, match="may not operate"):
        client.select(session, "S.SP1", 60.0).result(5)
    client.unlock(session, OPERATOR[1]).result(5)
    assert client.select(session, "S.SP1", 60.0).result(5).user == "li.wei"
    successor = client.switch_user(session, *SECOND).result(5)
    assert successor.name == "zhao.lei" and session.closed
    assert decode(peer_loop.call(plc.get(1, "hr", 10, 2)), "float32", "CDAB") == 62.5

"""Valve commands against the heating simulator over Modbus: select -> confirm -> operate ->
read back, every refusal without a write on the server, the two-person rule, the audit trail;
on SQLite and on PostgreSQL (the relational store of several seats)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from hmi.audit.query import query_audit
from hmi.audit.verify import verify
from hmi.commands.model import CommandRefused, Outcome
from hmi.db import create_all, metadata, open_database
from hmi.security.permissions import parse_grants
from hmi.station import DATABASE_ENV, Station
from tests.conftest import demo_copy, wait_until

pytestmark = pytest.mark.slow

PASSWORDS = {
    "admin": "Plant-Boss-2026!x",
    "li.wei": "Valve-Shift-A-77",
    "zhao.lei": "Second-Shift-B-88",
    "wang.fang": "Supervisor-Check-9",
    "guest": "Only-Looking-Here-1",
}
VALVE = (
    'command = { min = 0, max = 100, critical = true, readback = "SS1.ZT301", band = 1.0, '
    'timeout = "60s", interlocks = [{ block = "SS1.YS301 == 0", message = { en = '
    '"Secondary pump stopped", zh_CN = "二次泵停运" } }] }\n'
)
TWO_PERSON = (
    'command = { min = 0, max = 100, two_person = true, readback = "SS2.ZT301", band = 1.0, '
    'timeout = "60s" }\n'
)


@pytest.fixture(params=["sqlite", "postgresql"])
def station(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> Iterator[Station]:
    caplog.set_level("DEBUG")  # everything the station logs, to look for passwords in it
    monkeypatch.setenv("CONDUIT_HOME", str(tmp_path / "home"))
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        clean = open_database(url, tmp_path)
        metadata.drop_all(clean)  # every test starts from an empty relational store
        create_all(clean)
        clean.dispose()
        monkeypatch.setenv(DATABASE_ENV, url)
    root = demo_copy(tmp_path)
    tags = root / "tags.toml"
    text_ = tags.read_text(encoding="utf-8")
    for tag, rule in (("SS1.ZC301", VALVE), ("SS2.ZC301", TWO_PERSON)):
        text_ = with_command(text_, tag, rule)
    tags.write_text(text_, encoding="utf-8")
    station = Station.open(root, simulate=True, sim_speed=20.0)
    with station:
        store = station.runtime.store
        names = ("SS1.ZC301", "SS1.ZT301", "SS1.YS301", "SS2.ZC301", "SS2.ZT301")
        wait_until(lambda: all(store.get(n).good for n in names), 20, "valve values good")
        assert station.users is not None
        for name, grants in (
            ("admin", "administrator"),
            ("li.wei", "operator:SS1,SS2"),
            ("zhao.lei", "operator:SS2"),
            ("wang.fang", "supervisor"),
            ("guest", "viewer"),
        ):
            station.users.add_user(name, PASSWORDS[name], parse_grants(grants), by="test")
        for ss in ("SS1", "SS2"):  # the valves in MANUAL: the command positions them
            on_sim(station, "write", f"{ss}.TIC301_AUTO", False)
        wait_until(lambda: store.get("SS1.ZC301").good, 10, "manual")
        yield station


def with_command(tags: str, tag: str, rule: str) -> str:
    """The tags file with `tag`'s command rules (the demo's own, if any) replaced by `rule`."""
    blocks = tags.split("[[tag]]\n")
    anchor = f'name = "{tag}"\n'
    for i, block in enumerate(blocks):
        if block.startswith(anchor):
            kept = [
                line for line in block.splitlines(keepends=True) if not line.startswith("command")
            ]
            blocks[i] = anchor + rule + "".join(kept)[len(anchor) :]
            return "[[tag]]\n".join(blocks)
    raise AssertionError(f"{tag} not in the tags file")


def on_sim(station: Station, method: str, *args: Any) -> None:
    sim = station.simulation
    assert sim is not None and sim.heating is not None
    sim.call(getattr(sim.heating.plant, method), *args)


def writes(station: Station) -> int:
    """Write requests the simulator's Modbus servers received."""
    sim = station.simulation
    assert sim is not None and sim.heating is not None
    return sim.heating.write_requests


def login(station: Station, name: str) -> Any:
    assert station.auth is not None
    return station.auth.login(name, PASSWORDS[name])


def test_an_operator_sets_a_valve_to_40_percent(
    station: Station, caplog: pytest.LogCaptureFixture
) -> None:
    commands = station.commands
    assert commands is not None and station.database is not None
    operator = login(station, "li.wei")
    before = writes(station)
    selection = commands.select(operator, "SS1.ZC301", 40.0)
    assert (selection.min, selection.max, selection.unit, selection.critical) == (
        0.0,
        100.0,
        "%",
        True,
    )
    assert [(i.message, i.blocking) for i in selection.interlocks] == [
        ("Secondary pump stopped", False)
    ]
    old = selection.current
    commands.confirm(operator, selection.id, PASSWORDS["li.wei"])
    result = commands.operate(operator, selection.id).result(90)
    assert result.outcome is Outcome.VERIFIED, result.message
    assert abs(result.readback - 40.0) <= 1.0
    assert writes(station) == before + 1, "exactly one write reached the server"
    sim = station.simulation
    assert sim is not None and sim.heating is not None
    assert sim.heating.applied_writes[-1] == ("SS1.ZC301", 40.0)
    assert sim.heating.plant.read("SS1.ZC301") == 40.0, "the register holds 40 %"
    steps = query_audit(station.database, action="command.")
    assert [(r.action, r.user, r.target, r.result) for r in steps] == [
        ("command.select", "li.wei", "SS1.ZC301", "ok"),
        ("command.confirm", "li.wei", "SS1.ZC301", "ok"),
        ("command.operate", "li.wei", "SS1.ZC301", "ok"),
        ("command.result", "li.wei", "SS1.ZC301", "verified"),
    ]
    assert steps[0].old == f"{old:g}" and steps[0].new == "40"
    assert steps[3].old == f"{old:g}" and abs(float(steps[3].new) - 40.0) <= 1.0
    assert [r.action for r in query_audit(station.database, user="li.wei")] == [
        "login",
        "command.select",
        "reauthenticate",  # the password asked again for the critical valve
        "command.confirm",
        "command.operate",
        "command.result",
    ]
    assert verify(station.database).ok
    records = caplog.get_records("setup") + caplog.get_records("call")
    logged = "\n".join(r.getMessage() for r in records)
    assert "station Demo district heating started" in logged, "the station's log is seen"
    assert not any(p in logged for p in PASSWORDS.values()), "no password logged"


def test_refused_commands_never_reach_the_wire(station: Station) -> None:
    commands = station.commands
    assert commands is not None and station.database is not None
    operator, viewer, other = (login(station, n) for n in ("li.wei", "guest", "zhao.lei"))
    before = writes(station)

    def refused(match: str, step: Any, *args: Any) -> None:
        with pytest.raises(CommandRefused, match=re.escape(match)):
            step(*args)

    refused("guest may not operate in area 'SS1'", commands.select, viewer, "SS1.ZC301", 40.0)
    refused("zhao.lei may not operate in area 'SS1'", commands.select, other, "SS1.ZC301", 40.0)
    refused("120 is above the maximum 100", commands.select, operator, "SS1.ZC301", 120.0)
    refused("no such selection", commands.operate, operator, "no-such-id")
    # a wrong password: not confirmed, so not operated
    selection = commands.select(operator, "SS1.ZC301", 45.0)
    refused("wrong password", commands.confirm, operator, selection.id, "not-the-password")
    refused("not confirmed", commands.operate, operator, selection.id)
    # someone else's selection
    assert station.auth is not None
    commands.confirm(operator, selection.id, PASSWORDS["li.wei"])
    refused("belongs to li.wei", commands.operate, other, selection.id)
    # a second select of a held point
    other_ss1 = login(station, "admin")
    refused("selected by li.wei", commands.select, other_ss1, "SS1.ZC301", 50.0)
    # an expired selection
    commands.select_timeout = 0.0
    stale = commands.select(operator, "SS1.ZC301", 45.0)
    refused("expired", commands.confirm, operator, stale.id, PASSWORDS["li.wei"])
    commands.select_timeout = 30.0
    # a violated interlock, checked again at operate: the pump stops after the select
    ready = commands.select(operator, "SS1.ZC301", 45.0)
    commands.confirm(operator, ready.id, PASSWORDS["li.wei"])
    on_sim(station, "write", "SS1.HS301", False)
    store = station.runtime.store
    wait_until(lambda: store.get("SS1.YS301").value is False, 20, "pump stopped")
    refused("Secondary pump stopped", commands.operate, operator, ready.id)
    refused("Secondary pump stopped", commands.select, operator, "SS1.ZC301", 45.0)
    assert writes(station) == before, "no write reached the server"
    refusals = query_audit(station.database, action="command.")
    assert sum(1 for r in refusals if r.result == "refused") >= 10
    assert all(r.reason for r in refusals if r.result == "refused"), "each says why"


def test_two_person_rule(station: Station) -> None:
    commands = station.commands
    assert commands is not None and station.database is not None
    operator = login(station, "li.wei")
    colleague = login(station, "zhao.lei")  # an operator: no approve permission
    supervisor = login(station, "wang.fang")
    before = writes(station)
    selection = commands.select(operator, "SS2.ZC301", 35.0)
    with pytest.raises(CommandRefused, match="waiting for a second person's approval"):
        commands.operate(operator, selection.id)
    with pytest.raises(CommandRefused, match="cannot approve their own command"):
        commands.approve(operator, selection.id, PASSWORDS["li.wei"])
    with pytest.raises(CommandRefused, match=r"zhao\.lei may not approve commands"):
        commands.approve(colleague, selection.id, PASSWORDS["zhao.lei"])
    with pytest.raises(CommandRefused, match="wrong password"):
        commands.approve(supervisor, selection.id, "guessing-at-it-1")
    assert writes(station) == before, "no write before the approval"
    commands.approve(supervisor, selection.id, PASSWORDS["wang.fang"])
    result = commands.operate(operator, selection.id).result(90)
    assert result.outcome is Outcome.VERIFIED, result.message
    assert writes(station) == before + 1
    approvals = query_audit(station.database, action="command.approve", user="wang.fang")
    assert [(r.result, r.reason) for r in approvals] == [
        ("refused", "wrong password"),
        ("ok", "requested by li.wei"),
    ]


def test_an_audit_row_edited_in_the_database_is_found(station: Station) -> None:
    commands = station.commands
    assert commands is not None and station.database is not None
    operator = login(station, "li.wei")
    selection = commands.select(operator, "SS1.ZC301", 42.0)
    commands.cancel(operator, selection.id)
    assert verify(station.database).ok
    with station.database.begin() as conn:
        conn.execute(text("UPDATE audit_trail SET new = '99' WHERE action = 'command.select'"))
    report = verify(station.database)
    assert not report.ok
    assert any("changed after it was written" in p.message for p in report.problems)

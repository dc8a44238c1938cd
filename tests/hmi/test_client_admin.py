"""User administration, the audit trail, history reads and report export through RuntimeClient:
the permission is checked in the core, whatever a screen offers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest

from hmi.client import InProcessClient
from hmi.security.errors import PermissionRefused, UserError
from hmi.security.permissions import parse_grants
from tests.conftest import LoopThread, wait_until
from tests.drivers.conftest import ModbusTestServer
from tests.hmi.test_client_commands import setpoint_station

ADMIN, OPERATOR = ("root", "Plant-Boss-2026!x"), ("li.wei", "Shift-Setpoint-42")


@pytest.fixture
def fresh(
    tmp_path: Path, plc: ModbusTestServer, peer_loop: LoopThread, monkeypatch: pytest.MonkeyPatch
) -> Iterator[InProcessClient]:
    """A station with no user yet, its history recording S.SP1."""
    client = InProcessClient(setpoint_station(tmp_path, plc, peer_loop, monkeypatch))
    yield client
    client.close()


def test_first_administrator_then_users_roles_and_audit_by_permission(
    fresh: InProcessClient,
) -> None:
    client = fresh
    assert client.first_start().result(5)
    admin = client.create_first_admin(*ADMIN, full_name="Plant Admin").result(10)
    assert admin.may("manage_users", "*") and not client.first_start().result(5)
    with pytest.raises(UserError):  # only while nobody exists
        client.create_first_admin("second.root", "Another-Root-2026").result(10)
    client.add_user(admin, *OPERATOR, parse_grants("operator:S")).result(10)
    assert [u.name for u in client.users(admin).result(5)] == ["li.wei", "root"]
    client.set_roles(admin, "li.wei", parse_grants("operator:S,T")).result(5)
    client.set_disabled(admin, "li.wei", True, reason="left the shift").result(5)
    client.set_disabled(admin, "li.wei", False).result(5)
    assert "operator" in client.roles(admin).result(5)
    operator = client.login(*OPERATOR).result(10)
    for refused in (
        client.users(operator),
        client.roles(operator),
        client.add_user(operator, "mallory", "Sneaky-Pass-2026", parse_grants("administrator")),
        client.set_roles(operator, "li.wei", parse_grants("administrator")),
        client.reset_password(operator, "root", "Taken-Over-2026"),
        client.audit(operator),
        client.verify_audit(operator),
    ):
        with pytest.raises(PermissionRefused, match="may not manage users"):
            refused.result(10)
    assert [u.name for u in client.users(admin).result(5)] == ["li.wei", "root"]
    actions = [r.action for r in client.audit(admin).result(5)]
    assert actions[:2] == ["user_add", "login"], actions
    assert "user_roles" in actions and "user_disable" in actions and "user_enable" in actions
    report = client.verify_audit(admin).result(10)
    assert report.ok and report.count == len(actions)


def test_history_reads_and_an_audited_export_for_those_who_may(
    fresh: InProcessClient, tmp_path: Path
) -> None:
    client = fresh
    admin = client.create_first_admin(*ADMIN).result(10)
    client.add_user(admin, *OPERATOR, parse_grants("operator")).result(10)
    operator = client.login(*OPERATOR).result(10)
    start = time.time() - 60

    def recorded() -> bool:
        return bool(client.history_raw("S.SP1", start, time.time() + 1).result(5))

    wait_until(recorded, 20, "S.SP1 recorded")
    samples = client.history_raw("S.SP1", start, time.time() + 1).result(5)
    assert samples[0][1] == pytest.approx(55.0)
    trend = client.history_trend(["S.SP1"], start, time.time() + 1, 10).result(5)["S.SP1"]
    assert len(trend) >= 1 and trend.max[0] == pytest.approx(55.0)
    assert client.last_before("S.SP1", time.time() + 1).result(5) is not None
    dest = tmp_path / "sp.xlsx"
    with pytest.raises(PermissionRefused, match="may not export reports"):
        client.export_history(operator, ["S.SP1"], start, time.time() + 1, dest).result(10)
    assert not dest.exists()
    rows = client.export_history(admin, ["S.SP1"], start, time.time() + 1, dest).result(10)
    assert rows >= 1
    sheet = openpyxl.load_workbook(dest).worksheets[0]
    assert sheet.cell(2, 4).value == pytest.approx(55.0)
    exports = client.audit(admin, action="report.export").result(5)
    assert [(r.user, r.target, r.new) for r in exports] == [("root", "S.SP1", str(dest))]

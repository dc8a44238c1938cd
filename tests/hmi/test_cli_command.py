"""`conduit command`: one command from a terminal through a running station's command service."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from drivers.modbus.codec import decode, encode
from hmi import cli
from hmi.audit.query import query_audit
from hmi.project import load_project
from hmi.security.permissions import parse_grants
from hmi.station import Station
from tests.conftest import LoopThread, wait_until
from tests.drivers.conftest import ModbusTestServer
from tests.hmi.test_runtime import write_project

SETPOINT = """\
[[tag]]
name = "S.SP1"
address = "modbus://PLC1/1/hr/10?type=float32&order=CDAB"
unit = "°C"
range = [20, 90]
scan = "fast"
writable = true
command = { min = 30, max = 80, max_step = 15, critical = true, band = 0.01, timeout = "5s" }
"""
OPERATOR_PASSWORD = "Shift-Setpoint-42"


def test_a_setpoint_command_from_the_terminal(
    tmp_path: Path,
    plc: ModbusTestServer,
    peer_loop: LoopThread,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    monkeypatch.setenv("CONDUIT_HOME", str(tmp_path / "home"))
    (tmp_path / "p" / "tags").mkdir(parents=True)
    folder = write_project(tmp_path / "p", plc.port)
    (folder / "tags" / "sp.toml").write_text(SETPOINT, encoding="utf-8")
    peer_loop.call(plc.set(1, "hr", 10, encode(55.0, "float32", "CDAB")))
    with Station(load_project(folder)) as station:
        assert station.users is not None and station.database is not None
        station.users.add_user("admin", "Root-Of-All-2026", parse_grants("administrator"), by="t")
        station.users.add_user("li.wei", OPERATOR_PASSWORD, parse_grants("operator:S"), by="t")
        wait_until(lambda: station.runtime.store.get("S.SP1").good, 10, "setpoint read")
        target = 60.0

        def run(*extra: str, password: str = OPERATOR_PASSWORD) -> int:
            monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
            argv = ["command", str(folder), *extra, "--user", "li.wei", "--password-stdin"]
            return cli.main(argv)

        capsys.readouterr()
        assert run("S.SP1", str(target), "--json") == 0
        result = json.loads(capsys.readouterr().out)
        assert result["outcome"] == "verified" and result["target"] == target
        registers = peer_loop.call(plc.get(1, "hr", 10, 2))
        assert decode(registers, "float32", "CDAB") == pytest.approx(target)
        # refusals: a step too large, a wrong password; each a one-line message, exit 2
        assert run("S.SP1", "79") == 2  # 19 from 60: more than the maximum step
        assert "refused: a step of 19 from 60 is more than the maximum step 15" in (
            capsys.readouterr().err
        )
        assert run("S.SP1", str(target), password="not-my-password") == 2
        assert "wrong user name or password" in capsys.readouterr().err.lower()
        actions = [r.action for r in query_audit(station.database, user="li.wei")]
        assert actions[:6] == [
            "login",
            "command.select",
            "reauthenticate",
            "command.confirm",
            "command.operate",
            "command.result",
        ]
        assert OPERATOR_PASSWORD not in (tmp_path / "home").joinpath(
            "hmi.sqlite"
        ).read_bytes().decode("latin-1")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "not-my-password" not in logged and OPERATOR_PASSWORD not in logged

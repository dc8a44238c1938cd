"""`conduit alarms`: active alarms from the running station, the journal from the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hmi import cli
from hmi.alarms.model import AlarmState
from hmi.project import load_project
from hmi.station import Station
from tests.conftest import wait_until
from tests.drivers.conftest import ModbusTestServer
from tests.hmi.test_runtime import write_project

HOT = """\
[[tag]]
name = "S.HOT"
expr = "S.TT1"
unit = "°C"
alarms = [
  { kind = "hi", limit = 50, priority = "high", message = { en = "S hot", zh_CN = "S 温度高" } },
]
"""


def test_active_alarms_and_the_journal_from_the_command_line(
    tmp_path: Path,
    plc: ModbusTestServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CONDUIT_HOME", str(tmp_path / "home"))
    (tmp_path / "p" / "tags").mkdir(parents=True)
    folder = write_project(tmp_path / "p", plc.port)
    (folder / "tags" / "hot.toml").write_text(HOT, encoding="utf-8")
    assert cli.main(["alarms", str(folder)]) == 2
    assert "no station of 'Runtime test' is running" in capsys.readouterr().err
    with Station(load_project(folder)) as station:
        wait_until(lambda: station.alarms.view("S.HOT.hi").active, 10, "S.HOT.hi active")
        capsys.readouterr()
        assert cli.main(["alarms", str(folder), "--json"]) == 0
        active = json.loads(capsys.readouterr().out)
        assert cli.main(["alarms", str(folder), "--zh"]) == 0
        table = capsys.readouterr().out
        assert station.journal is not None and station.journal.flush(5)
    hot = [a for a in active if a["id"] == "S.HOT.hi"]
    assert hot and hot[0]["state"] == AlarmState.UNACK.value and hot[0]["value"] == 72.5
    assert "S 温度高" in table and "high" in table
    assert cli.main(["alarms", str(folder), "--journal", "--json"]) == 0
    journal = json.loads(capsys.readouterr().out)
    activations = [r for r in journal if r["alarm"] == "S.HOT.hi" and r["event"] == "activate"]
    assert len(activations) == 1 and activations[0]["limit"] == 50

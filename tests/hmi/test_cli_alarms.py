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


def test_diagnostics_prints_outages_and_data_accuracy_of_a_month(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import datetime

    from hmi.db import create_all, open_database
    from hmi.diagnostics.records import RecordWriter

    home, folder = _offline_project(tmp_path, monkeypatch)
    (folder / "tags.toml").write_text(
        (folder / "tags.toml")
        .read_text(encoding="utf-8")
        .replace('name = "S.TT1"\n', 'name = "S.TT1"\nchecks = { frozen = "10m" }\n'),
        encoding="utf-8",
    )
    database = open_database(None, home)
    create_all(database)
    writer = RecordWriter(database)
    t = datetime(2026, 10, 14, 8, 0).timestamp()
    writer.outage_began("PLC1", t)
    writer.outage_ended("PLC1", t + 90)
    writer.outage_began("PLC1", datetime(2026, 11, 1, 0, 1).timestamp())  # the next month
    writer.add_quality(
        "S.TT1", t, {"watched_s": 3600.0, "faulty_s": 360.0, "frozen_s": 360.0}, {"frozen_count": 1}
    )
    assert writer.flush()
    database.dispose()
    assert cli.main(["diagnostics", str(folder), "--month", "2026-10", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["outages"] == {"PLC1": {"count": 1, "minutes": 1.5}}
    (row,) = report["accuracy"]
    assert row["tag"] == "S.TT1" and row["accuracy_pct"] == pytest.approx(90.0)
    assert row["frozen_count"] == 1
    assert cli.main(["diagnostics", str(folder), "--month", "2026-10"]) == 0
    text = capsys.readouterr().out
    assert "PLC1" in text and "1 outage(s)" in text and "90.00 %" in text
    assert cli.main(["diagnostics", str(folder), "--month", "October"]) == 2
    assert "--month: expected YYYY-MM" in capsys.readouterr().err


def test_kpis_of_a_window_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hmi.alarms.journal import alarm_journal, transition_row
    from hmi.alarms.model import Event, Priority, Transition
    from hmi.alarms.response import ResponseLog
    from hmi.db import create_all, open_database

    home, folder = _offline_project(tmp_path, monkeypatch)
    t0 = 1_790_000_000.0

    def tr(ts: float, alarm: str, event: Event, user: str = "") -> Transition:
        state = {Event.ACTIVATE: AlarmState.UNACK, Event.ACK: AlarmState.ACKED}
        return Transition(
            t0 + ts,
            alarm,
            event,
            state.get(event, AlarmState.NORMAL),
            Priority.HIGH,
            "S",
            "S.X",
            user=user,
        )

    rows = [tr(10 * i, "S.A.hi", Event.ACTIVATE) for i in range(12)]  # 12 in 2 min: a flood
    rows += [tr(10 * i + 5, "S.A.hi", Event.CLEAR) for i in range(12)]
    rows += [tr(1000, "S.B.lo", Event.ACTIVATE), tr(1060, "S.B.lo", Event.ACK, "li.wei")]
    database = open_database(None, home)
    create_all(database)
    with database.begin() as conn:
        conn.execute(alarm_journal.insert(), [transition_row(r) for r in rows])
    ResponseLog(database).apply(rows)
    database.dispose()
    window = ["--from", str(t0), "--to", str(t0 + 3600)]
    assert cli.main(["alarms", str(folder), "--kpi", *window, "--json"]) == 0
    k = json.loads(capsys.readouterr().out)
    assert k["activations"] == 13
    assert k["bad_actors"][0]["alarm"] == "S.A.hi" and k["bad_actors"][0]["activations"] == 12
    assert len(k["flood"]["periods"]) == 1
    assert k["chattering"][0]["alarm"] == "S.A.hi"
    assert k["response"]["acked"] == 1 and k["response"]["mean_to_ack"] == 60.0
    assert k["workflow"]["occurrences"] == 13
    assert cli.main(["alarms", str(folder), "--kpi", *window]) == 0
    text = capsys.readouterr().out
    assert "activations: 13" in text and "S.A.hi" in text and "mean 1.0 min" in text


def _offline_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A data folder of its own and a project whose PLC is not there (the CLI reads the store)."""
    home = tmp_path / "home"
    monkeypatch.setenv("CONDUIT_HOME", str(home))
    (tmp_path / "p").mkdir()
    return home, write_project(tmp_path / "p", 1)

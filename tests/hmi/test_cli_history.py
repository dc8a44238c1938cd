"""`conduit history`: the same answer from a running station (control endpoint) and the file."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from hmi import cli
from hmi.cli_history import CliError, parse_when
from hmi.control import endpoint_path
from hmi.history.writer import HistoryWriter
from hmi.project import load_project
from hmi.station import Station
from tests.conftest import wait_until
from tests.drivers.conftest import ModbusTestServer
from tests.hmi.test_runtime import write_project


def _history_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    capsys.readouterr()
    assert cli.main(["history", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def folder(tmp_path: Path, plc: ModbusTestServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project polling the test PLC, with its data folder in tmp_path/home."""
    monkeypatch.setenv("CONDUIT_HOME", str(tmp_path / "home"))
    (tmp_path / "p").mkdir()
    return write_project(tmp_path / "p", plc.port)


def _recorded(station: Station, rows: int = 4) -> HistoryWriter:
    """The station's history writer once `rows` values were written, its queue flushed."""
    writer = station.history.writer
    assert writer is not None
    wait_until(lambda: writer.written >= rows, 10, "history rows written")
    writer.flush()
    return writer


def test_history_from_the_running_station_and_from_the_file_agree(
    tmp_path: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    start = time.time() - 1
    with Station(load_project(folder)) as station:
        _recorded(station)
        assert endpoint_path(tmp_path / "home", "Runtime test").exists()
        end = time.time() + 1
        span = ("--from", str(start), "--to", str(end))
        live = _history_json(capsys, str(folder), "S.TT1", "S.TT2", *span)
        buckets = _history_json(capsys, str(folder), "S.TT1", *span, "--buckets", "3")
    assert live["S.TT1"], "samples came from the running station"
    ts, value, quality = live["S.TT1"][0]
    assert value == pytest.approx(72.5) and quality == "good" and start <= ts <= end
    assert 1 <= len(buckets["S.TT1"]["max"]) <= 3
    assert buckets["S.TT1"]["max"][0] == pytest.approx(72.5)
    # the station stopped: the CLI opens the file itself and reads the same rows
    offline = _history_json(capsys, str(folder), "S.TT1", "S.TT2", *span)
    assert offline == live


def test_history_mistakes_are_one_line_messages(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["history", str(folder), "S.TT1"]) == 2
    assert "no history recorded yet for 'Runtime test'" in capsys.readouterr().err
    assert cli.main(["history", str(folder), "S.TT1", "--from", "yesterday"]) == 2
    assert "bad time 'yesterday'" in capsys.readouterr().err
    assert cli.main(["history", str(folder), "S.TT1", "--from", "now", "--to=-1h"]) == 2
    assert "--to must be after --from" in capsys.readouterr().err


def test_parse_when() -> None:
    now = 1_800_000_000.0
    assert parse_when("now", now) == now
    assert parse_when("-8h", now) == now - 8 * 3600
    assert parse_when("-7d", now) == now - 7 * 86400
    assert parse_when("1700000000.5", now) == 1_700_000_000.5
    local = time.mktime((2026, 11, 22, 6, 0, 0, 0, 0, -1))
    assert parse_when("2026-11-22T06:00", now) == local
    assert parse_when("2026-11-22T06:00+08:00", now) == 1_795_298_400.0
    with pytest.raises(CliError):
        parse_when("-8 hours", now)


def test_backup_of_a_running_station_restores_into_a_fresh_data_folder(
    tmp_path: Path,
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    start = time.time() - 1
    backup = tmp_path / "backup"
    with Station(load_project(folder)) as station:
        writer = _recorded(station, rows=10)
        cut = time.time() - 0.5  # rows stamped before this were written by the flush
        writer.flush()
        capsys.readouterr()
        assert cli.main(["backup", str(folder), "--to", str(backup)]) == 0
        assert f"in {backup}" in capsys.readouterr().out
        span = ("--from", str(start), "--to", str(time.time()))
        assert cli.main(["restore", str(folder), str(backup)]) == 2
        assert "is running" in capsys.readouterr().err
        at_backup = _history_json(capsys, str(folder), "S.TT1", *span)
    assert (backup / "manifest.json").is_file()
    assert (backup / "project" / "tags.toml").is_file()
    # a new machine: an empty data folder, the backup restored, the same history there
    monkeypatch.setenv("CONDUIT_HOME", str(tmp_path / "fresh"))
    assert cli.main(["restore", str(folder), str(backup)]) == 0
    assert "restored" in capsys.readouterr().out
    restored = _history_json(capsys, str(folder), "S.TT1", *span)
    backed_up = [row for row in at_backup["S.TT1"] if row[0] < cut]
    assert backed_up, "samples recorded before the backup"
    assert [row for row in restored["S.TT1"] if row[0] < cut] == backed_up


def test_export_from_the_running_station_and_from_the_file(
    tmp_path: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import csv

    import pyarrow.parquet as pq

    start = time.time() - 1
    with Station(load_project(folder)) as station:
        _recorded(station)
        end = time.time()
        span = ("--from", str(start), "--to", str(end))
        live_csv = tmp_path / "live.csv"
        argv = ["export", str(folder), "--tags", "S.TT1", "S.TT2", *span]
        assert cli.main([*argv, "--format", "csv", "--out", str(live_csv)]) == 0
    with live_csv.open(newline="", encoding="utf-8") as f:
        live_rows = list(csv.DictReader(f))
    assert live_rows and {r["tag"] for r in live_rows} <= {"S.TT1", "S.TT2"}
    offline = tmp_path / "offline.parquet"
    assert cli.main([*argv, "--format", "parquet", "--out", str(offline)]) == 0
    table = pq.read_table(offline)
    assert table.num_rows == len(live_rows)
    assert table.column("tag").to_pylist() == [r["tag"] for r in live_rows]
    assert f"{len(live_rows):,} rows written" in capsys.readouterr().out
    # each export is in the audit trail, recorded before the file was written
    from hmi.audit.query import query_audit
    from hmi.db import open_database
    from hmi.resources import data_home

    engine = open_database(None, data_home())
    try:
        exports = query_audit(engine, action="report.export")
    finally:
        engine.dispose()
    assert [(r.target, r.new) for r in exports] == [
        ("S.TT1,S.TT2", str(live_csv.resolve())),
        ("S.TT1,S.TT2", str(offline.resolve())),
    ]
    assert all(r.user.startswith("os:") for r in exports)

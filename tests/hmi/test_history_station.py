"""The station records history: Modbus values reach the DuckDB file and survive a restart."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hmi.history.query import HistoryReader
from hmi.history.service import history_path
from hmi.history.store import HistoryStore
from hmi.project import load_project
from hmi.station import Station
from tests.conftest import wait_until
from tests.drivers.conftest import ModbusTestServer
from tests.hmi.test_runtime import write_project


def test_values_polled_from_a_plc_are_recorded_and_read_back_after_a_restart(
    tmp_path: Path,
    plc: ModbusTestServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONDUIT_HOME", str(tmp_path / "home"))
    (tmp_path / "p").mkdir()
    project = load_project(write_project(tmp_path / "p", plc.port))
    start = time.time()
    station = Station(project)
    with station:
        written = station.history.writer
        assert written is not None
        wait_until(lambda: written.written >= 4, 10, "history rows written")
        station.runtime.call(station.runtime.refresh_link_stats()).result(5)
        assert station.runtime.store.get("_diag.history.written").value >= 4
        assert station.runtime.store.get("_diag.history.dropped").value == 0
    store = HistoryStore(history_path(tmp_path / "home", project.name))
    try:
        rows = HistoryReader(store).raw("S.TT1", start - 1, time.time() + 1)
    finally:
        store.close()
    assert rows, "S.TT1 was recorded"
    ts, value, quality = rows[0]
    assert value == pytest.approx(72.5)
    assert quality.name == "GOOD"
    assert start - 1 <= ts <= time.time()


def test_a_history_file_that_cannot_be_opened_leaves_the_station_running(
    tmp_path: Path,
    plc: ModbusTestServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("CONDUIT_HOME", str(home))
    (tmp_path / "p").mkdir()
    project = load_project(write_project(tmp_path / "p", plc.port))
    blocked = history_path(home, project.name)
    blocked.parent.mkdir(parents=True)
    blocked.mkdir()  # a folder where the file should be: DuckDB cannot open it
    with Station(project) as station:
        wait_until(lambda: station.runtime.store.get("S.TT1").good, 10, "values still flow")
        writer = station.history.writer
        assert writer is not None
        wait_until(lambda: writer.queued() > 0, 10, "values wait in memory")
        station.runtime.call(station.runtime.refresh_link_stats()).result(5)
        assert station.runtime.store.get("_diag.history.online").value is False
        assert station.runtime.store.get("_diag.history.written").value == 0
        assert station.runtime.store.get("_diag.history.queue_fill").value > 0
        # the operator hears of it: a system alarm once it lasted its on-delay (10 s)
        alarm = "_diag.history.online.system"
        assert not station.alarms.view(alarm).active
        station.alarms.tick(time.time() + 11)
        view = station.alarms.view(alarm)
        assert (
            view.active and view.area == "HMI" and "History is not being written" in view.message_en
        )

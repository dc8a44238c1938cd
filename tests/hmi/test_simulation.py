"""The simulation host: which simulators a project asks for, and running them with the station."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from pathlib import Path

import psutil
import pytest

import hmi.simulation
from drivers.base import Quality, Reason
from hmi.project import load_project
from hmi.resources import demo_project
from hmi.simulation import NO_BROKER, LocalBroker, SimulationError, simulated_endpoints
from hmi.station import Station
from tests.conftest import demo_copy, free_port, wait_until
from tests.mosquitto import require_mosquitto

LIVE = ("GS1.PT201", "GS1.FQ301", "GS1.ODOR_DAYS", "SS1.JT210_MQ", "SS1.JT210_SPB", "SS4.JQ210_MQ")


def write_project(folder: Path, devices: str) -> Path:
    (folder / "project.toml").write_text('[project]\nname = "sim"\n')
    (folder / "devices.toml").write_text(devices)
    return folder


def test_the_demo_asks_for_heating_gas_and_a_broker() -> None:
    endpoints = simulated_endpoints(load_project(demo_project()))
    assert endpoints["heating"]["HS1"] == ("127.0.0.1", 15020)
    assert len(endpoints["heating"]) == 5
    assert endpoints["gasgate"] == {"GS1": ("127.0.0.1", 15030)}
    assert endpoints["mosquitto"] == {"BROKER1": ("127.0.0.1", 15883)}


@pytest.mark.parametrize(
    ("devices", "message"),
    [
        (
            '[X]\ndriver = "modbus"\nsimulate = "boiler/B1"\n',
            "device X: simulate: unknown simulator 'boiler/B1' (expected <plant>/<station> "
            "with plant one of heating, gasgate, or one of mosquitto)",
        ),
        (
            '[UA]\ndriver = "opcua"\nsimulate = "gasgate/GS9"\n',
            "device UA: simulate: unknown gas station 'GS9' (expected one of GS1)",
        ),
        ('[B]\ndriver = "mqtt"\nsimulate = "mosquitto/x"\n', "unknown simulator 'mosquitto/x'"),
        ('[X]\ndriver = "modbus"\nsimulate = "heating"\n', "unknown simulator 'heating'"),
        (
            '[B1]\ndriver = "mqtt"\nsimulate = "mosquitto"\n'
            '[B2]\ndriver = "mqtt"\nsimulate = "mosquitto"\n',
            "only one device may simulate 'mosquitto' (found B1, B2)",
        ),
    ],
)
def test_unknown_simulators_are_named(tmp_path: Path, devices: str, message: str) -> None:
    project = load_project(write_project(tmp_path, devices))
    with pytest.raises(SimulationError, match=r"^devices\.toml: ") as caught:
        simulated_endpoints(project)
    assert message in str(caught.value)


def test_default_ports_of_the_simulated_services(tmp_path: Path) -> None:
    devices = (
        '[UA]\ndriver = "opcua"\nsimulate = "gasgate/GS1"\n'
        '[MQ]\ndriver = "mqtt"\nhost = "127.0.0.1"\nsimulate = "mosquitto"\n'
    )
    endpoints = simulated_endpoints(load_project(write_project(tmp_path, devices)))
    assert endpoints == {
        "gasgate": {"GS1": ("127.0.0.1", 4840)},
        "mosquitto": {"MQ": ("127.0.0.1", 1883)},
    }


def test_a_broker_that_cannot_start_is_reported(tmp_path: Path) -> None:
    async def start(binary: str, endpoint: tuple[str, int]) -> SimulationError:
        broker = LocalBroker(binary, endpoint)
        with pytest.raises(SimulationError) as caught:
            await broker.start()
        assert broker.process is None and not broker.folder.exists()
        return caught.value

    with socket.create_server(("127.0.0.1", 0)) as busy:
        endpoint = busy.getsockname()
        error = asyncio.run(asyncio.wait_for(start("/nonexistent/mosquitto", endpoint), 10))
        assert f"cannot start mosquitto on 127.0.0.1:{endpoint[1]}: " in str(error)
    script = tmp_path / "broken-broker"
    script.write_text("#!/bin/sh\necho 'Error: unknown configuration variable'\nexit 3\n")
    script.chmod(0o755)
    error = asyncio.run(asyncio.wait_for(start(str(script), ("127.0.0.1", free_port())), 10))
    assert "exited at start: Error: unknown configuration variable" in str(error)


def test_the_demo_station_serves_opc_ua_and_mqtt_and_stops_everything(tmp_path: Path) -> None:
    require_mosquitto()
    station = Station(load_project(demo_copy(tmp_path)), simulate=True, sim_speed=10.0)
    station.start()
    sim = station.simulation
    try:
        assert sim is not None and sim.broker is not None and sim.gasgate is not None
        pid = sim.broker.pid
        assert pid is not None and psutil.Process(pid).name() == "mosquitto"
        folder = sim.broker.folder
        store = station.runtime.store

        def live() -> bool:
            return all(store.get(name).good for name in LIVE)

        wait_until(live, timeout=20, what="gas and meter tags good")
        p_out, dp = store.get("GS1.PT201").value, store.get("GS1.DP_REG").value
        assert 0.35 < p_out < 0.42 and 3.0 < dp < 4.0
        assert store.get("SS1.JT210_MQ").value == pytest.approx(
            store.get("SS1.JT210_SPB").value, rel=0.1
        )
        assert store.get("SS1.JT210_MQ").source_ts is not None
    finally:
        station.stop()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not folder.exists(), "the broker's temporary folder is removed"


def test_without_mosquitto_the_demo_runs_and_says_so_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(hmi.simulation, "EXTRA_BIN_DIRS", ())
    assert hmi.simulation.find_mosquitto() is None
    caplog.set_level(logging.INFO, logger="hmi.simulation")
    station = Station(load_project(demo_copy(tmp_path)), simulate=True, sim_speed=10.0)
    station.start()
    try:
        sim = station.simulation
        assert sim is not None and sim.broker is None and sim.meters is None
        assert sim.gasgate is not None and sim.heating is not None
        mine = psutil.Process().children(recursive=True)
        assert not [p for p in mine if p.name() == "mosquitto"], "no broker was started"
        store = station.runtime.store
        tags = station.runtime.tags.values()
        served = [t.name for t in tags if t.address and t.address.scheme in ("modbus", "opcua")]
        assert len(served) > 150

        def running() -> bool:
            return all(store.get(name).good for name in served)

        wait_until(running, timeout=20, what="every Modbus and OPC UA tag good")
        mqtt = store.get("SS1.JT210_MQ")
        assert mqtt.quality is Quality.BAD and mqtt.value is None
        assert mqtt.reason in (Reason.COMM_FAILURE, Reason.INITIAL)
    finally:
        station.stop()
    lines = [r.getMessage() for r in caplog.records if r.name == "hmi.simulation"]
    assert lines.count(NO_BROKER) == 1
    assert not [line for line in lines if "mosquitto" in line and line != NO_BROKER]
    assert not [p for p in psutil.Process().children(recursive=True) if p.name() == "mosquitto"]
    assert os.environ["PATH"] == str(empty)

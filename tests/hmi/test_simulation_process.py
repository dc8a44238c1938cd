"""The demo's simulators in a child process (the operator application's `--simulate`): a real
child serving Modbus, OPC UA and MQTT on 127.0.0.1, stopped with the station or when the
application dies, and its problems reported in words."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from hmi.simulation_process import SimulatorProcess, SimulatorProcessError
from hmi.station import Station
from tests.conftest import demo_copy, wait_until

pytestmark = pytest.mark.slow


def test_a_station_runs_on_the_simulator_process_and_stops_it(tmp_path: Path) -> None:
    project = demo_copy(tmp_path)
    simulator = SimulatorProcess(project).spawn()
    station = Station.open(project, simulator=simulator)
    station.start(values_first=True)
    try:
        store = station.runtime.store
        wait_until(lambda: store.get("HS1.TT101").good, 20, "the heating plant over Modbus")
        assert 60.0 < float(store.get("HS1.TT101").value) < 130.0  # a supply temperature
        assert simulator.wait_ready(30)
        wait_until(lambda: store.get("GS1.PT101").good, 30, "the gas gate over OPC UA")
        assert station.simulation is None  # nothing of the plant runs in this process
        mine = psutil.Process().children(recursive=True)
        served = [p for p in mine if "hmi.simulation_process" in " ".join(p.cmdline())]
        assert len(served) == 1
    finally:
        station.stop()
    assert not served[0].is_running() or served[0].status() == psutil.STATUS_ZOMBIE


def test_the_simulator_process_ends_when_the_application_dies(tmp_path: Path) -> None:
    project = demo_copy(tmp_path)
    parent = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""\
            import os
            from hmi.simulation_process import SimulatorProcess
            sim = SimulatorProcess({str(project)!r})
            sim.start(defer_slow=True)
            print(sim._process.pid, flush=True)
            os._exit(0)  # no clean-up at all, as if killed
            """),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    child = psutil.Process(int(parent.stdout.split()[-1]))
    child.wait(20)  # its standard input closed with the parent: it stopped its simulators


def test_a_simulator_the_project_cannot_have_is_named(tmp_path: Path) -> None:
    project = demo_copy(tmp_path)
    devices = project / "devices.toml"
    devices.write_text(devices.read_text().replace('simulate = "gasgate/GS1"', 'simulate = "x/Y"'))
    simulator = SimulatorProcess(project)
    with pytest.raises(SimulatorProcessError, match="unknown simulator 'x/Y'"):
        simulator.start(defer_slow=True)
    simulator.stop()

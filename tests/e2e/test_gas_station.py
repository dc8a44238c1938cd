"""The gas gate station in the demo: plausible values over OPC UA, and browse of its nodes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from drivers.opcua.browse import browse_device
from hmi.station import Station
from tests.conftest import demo_copy, wait_until

pytestmark = pytest.mark.slow

SPEED = 60.0  # simulated seconds per real second, so the totaliser moves measurably


def test_gas_station_values_are_plausible_in_the_demo(tmp_path: Path) -> None:
    station = Station.open(demo_copy(tmp_path), simulate=True, sim_speed=SPEED)
    with station:
        store = station.runtime.store
        names = ("GS1.PT101", "GS1.PT201", "GS1.FY301", "GS1.FQ301")
        wait_until(lambda: all(store.get(n).good for n in names), 20, "gas station values good")
        inlet, outlet = store.get("GS1.PT101").value, store.get("GS1.PT201").value
        assert 3.0 < inlet < 5.0, "inlet ~4 MPa"
        assert 0.3 < outlet < 0.5, "outlet ~0.4 MPa"
        assert outlet < inlet

        # the base-volume totaliser grows at the base flow rate (Nm³/h), in simulated time:
        # record every change of both as the runtime applies them
        seen: list[tuple[float, str, float]] = []
        station.runtime.subscribe(
            lambda batch: seen.extend(
                (v.recv_ts, n, v.value) for n, v in batch if n in ("GS1.FY301", "GS1.FQ301")
            )
        )
        wait_until(lambda: sum(1 for _, n, _ in seen if n == "GS1.FQ301") >= 8, 30, "totals")
        totals = [(t, v) for t, n, v in seen if n == "GS1.FQ301"]
        flows = [v for _, n, v in seen if n == "GS1.FY301"] or [store.get("GS1.FY301").value]
        (t0, q0), (t1, q1) = totals[0], totals[-1]
        expected = sum(flows) / len(flows) * (t1 - t0) * SPEED / 3600
        assert q1 > q0
        assert q1 - q0 == pytest.approx(expected, rel=0.25)


def test_browse_returns_the_simulators_folders_and_variables(tmp_path: Path) -> None:
    station = Station.open(demo_copy(tmp_path), simulate=True)
    with station:
        device = station.runtime.devices["GS1"]

        async def walk() -> tuple[list[str], list[str], dict[str, str]]:
            top = await browse_device(device)
            gs1 = next(n for n in top if n.browse_name == "GS1")
            folders = await browse_device(device, gs1.node_id)
            inlet = next(n for n in folders if n.browse_name == "Inlet")
            variables = await browse_device(device, inlet.node_id)
            return (
                [n.browse_name for n in top],
                [n.browse_name for n in folders],
                {n.browse_name: n.data_type for n in variables if n.node_class == "Variable"},
            )

        top, folders, inlet_vars = asyncio.run(walk())
    assert "GS1" in top
    assert {"Inlet", "Filter", "Meter", "RunA", "RunB", "Odorizer", "ESV"} <= set(folders)
    assert any(t == "Double" for t in inlet_vars.values()), inlet_vars


def test_a_station_started_before_its_gas_gate_simulator_connects_without_false_alarms(
    tmp_path: Path,
) -> None:
    """The operator application starts the station first and builds the slow OPC UA server
    after: the gas gate link connects once it listens, offline meanwhile but never lossy."""
    station = Station.open(demo_copy(tmp_path), simulate=True)
    station.start(values_first=True)
    try:
        sim, store = station.simulation, station.runtime.store
        assert sim is not None
        assert sim.wait_ready(30) and sim.gasgate is not None
        wait_until(lambda: store.get("GS1.PT101").good, 30, "gas gate values good")
        assert station.runtime.link_stats()["GS1"].loss_pct == 0.0
        raised = {v.id for v in station.alarms.active() if v.tag.startswith("_diag.GS1")}
        assert raised == set()
    finally:
        station.stop()

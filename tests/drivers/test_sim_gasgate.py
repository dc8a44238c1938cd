"""The gas gate station model: operating point, balances, protections, faults, point map, files."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import pytest

from drivers.sim.gasgate import GasGate, GasGateConfig
from drivers.sim.gasgate_docs import gas_station_markdown, mqtt_meters_markdown
from drivers.sim.gasgate_faults import FilterClogging, LinkLoss, MeterFrozen, RegulatorFailure
from drivers.sim.gasgate_gas import Z_BASE, compressibility, demand_shape
from drivers.sim.gasgate_points import FOLDERS, GAS_BY_NAME, GAS_POINTS, NAMESPACE_URI
from drivers.sim.mapfiles_gas import (
    GAS_DERIVED,
    METER_DERIVED,
    demo_gas_tags_toml,
    demo_meter_tags_toml,
)

ROOT = Path(__file__).resolve().parents[2]


def quiet(**changes: object) -> GasGateConfig:
    """A station without measurement noise (values can be compared exactly)."""
    return GasGateConfig(measurement_noise=False, **changes)  # type: ignore[arg-type]


def run(gate: GasGate, seconds: float, every: float = 60.0) -> list[dict[str, float | bool]]:
    """Advance `seconds` of simulated time in `every`-second steps; the published values."""
    out = []
    for _ in range(round(seconds / every)):
        gate.advance(every)
        out.append(dict(gate.measured))
    return out


def value(gate: GasGate, point: str) -> float:
    return float(gate.read(f"GS1.{point}"))


def test_plausible_operating_point() -> None:
    gate = GasGate(quiet())
    p_in, p_out = value(gate, "PT101"), value(gate, "PT201")
    assert 3.8 < p_in < 4.2
    assert p_out < p_in
    assert p_out == pytest.approx(0.40, abs=0.015), "outlet near its setpoint (droop below it)"
    assert p_out < 0.40
    assert gate.read("GS1.YS211") is True and gate.read("GS1.YS221") is False, "run A on duty"
    assert value(gate, "ZT221") == 0.0, "standby run B closed"
    base, actual = value(gate, "FY301"), value(gate, "FT301")
    assert 10000 < base < 35000
    z = value(gate, "ZY301")
    assert 0.86 < z < 0.93, "Z of natural gas at 4 MPa and 8 °C"
    p_abs = value(gate, "PT301") + 0.101325
    t_abs = value(gate, "TT301") + 273.15
    assert actual == pytest.approx(base * 0.101325 / p_abs * t_abs / 273.15 * z / Z_BASE)
    jt = value(gate, "TT121") - value(gate, "TT201")
    assert jt == pytest.approx(0.5 * 10 * (value(gate, "PT301") - p_out), abs=0.5)
    assert value(gate, "TT201") > 4.5, "the preheater keeps the outlet above 5 °C (lag aside)"
    assert value(gate, "JT121") > 50.0
    assert value(gate, "FT401") == pytest.approx(20.0 * base / 1000.0, rel=1e-6)


def test_compressibility_is_plausible() -> None:
    assert 0.996 < Z_BASE < 0.999
    assert compressibility(4.1, 281.0) == pytest.approx(0.90, abs=0.02)
    assert compressibility(0.5, 278.0) == pytest.approx(0.985, abs=0.01)
    mean = sum(demand_shape(h / 4) for h in range(96)) / 96
    assert mean == pytest.approx(1.0, abs=0.01)
    assert demand_shape(3.0) < 0.8 < 1.2 < demand_shape(8.0)


def test_stable_and_deterministic_for_a_day_at_speed_3600() -> None:
    gates = [GasGate(seed=4, speed=3600.0), GasGate(seed=4, speed=3600.0)]
    outlets, flows = [], []
    for _ in range(120):  # 120 × 0.2 s × 3600 = 24 h, stepped like the server
        for gate in gates:
            gate.step(0.2)
        assert gates[0].measured == gates[1].measured
        outlets.append(value(gates[0], "PT201"))
        flows.append(value(gates[0], "FY301"))
        assert all(math.isfinite(float(v)) for v in gates[0].measured.values())
    assert min(outlets) > 0.37 and max(outlets) < 0.41, "regulated all day"
    assert max(flows) > 1.5 * min(flows), "demand follows the time of day"
    assert gates[0].read("GS1.ZSO501") is True and gates[0].read("GS1.XA501") is False
    other = GasGate(seed=5, speed=3600.0)
    other.step(0.2)
    assert other.measured != gates[0].measured


def test_totaliser_counts_the_base_flow() -> None:
    gate = GasGate(quiet())
    start_base, start_actual = value(gate, "FQ301"), value(gate, "FQ302")
    integral = actual = 0.0
    previous = value(gate, "FY301"), value(gate, "FT301")
    totals = []
    for sample in run(gate, 6 * 3600.0, every=30.0):
        now = float(sample["GS1.FY301"]), float(sample["GS1.FT301"])
        integral += (previous[0] + now[0]) / 2 * 30.0 / 3600.0
        actual += (previous[1] + now[1]) / 2 * 30.0 / 3600.0
        previous = now
        totals.append(float(sample["GS1.FQ301"]))
    assert totals == sorted(totals), "the totaliser never decreases"
    assert value(gate, "FQ301") - start_base == pytest.approx(integral, rel=0.01)
    assert value(gate, "FQ302") - start_actual == pytest.approx(actual, rel=0.01, abs=2.0)
    assert isinstance(gate.read("GS1.FQ302"), float)  # the server sends it as UInt32


def test_odorant_tank_falls_with_the_dosing() -> None:
    gate = GasGate(quiet())
    volume0, tank0, level0 = value(gate, "FQ301"), value(gate, "LY401"), value(gate, "LT401")
    run(gate, 12 * 3600.0, every=120.0)
    used_l = tank0 - value(gate, "LY401")
    dosed_g = 20.0 * (value(gate, "FQ301") - volume0) / 1000.0
    assert used_l == pytest.approx(dosed_g / 997.0, rel=0.01)
    assert value(gate, "LT401") < level0
    assert value(gate, "LT401") == pytest.approx(100 * value(gate, "LY401") / 400.0)
    gate.write("GS1.FIC401_SP", 10.0)
    gate.advance(60.0)
    assert value(gate, "FT401") == pytest.approx(10.0 * value(gate, "FY301") / 1000.0, rel=0.01)


def test_filter_dp_goes_with_flow_squared_and_rises_with_throughput() -> None:
    def resistance(gate: GasGate) -> float:  # ΔP / (ρ·Q²): clogging, whatever flow and pressure
        rho = value(gate, "PT101") + 0.101325
        return value(gate, "PDT111") * rho / value(gate, "FY301") ** 2

    gate = GasGate(quiet(load_profiles=False, q_mean=20000.0))
    first = resistance(gate)
    assert value(gate, "PDT111") == pytest.approx(8.0, rel=0.1)
    run(gate, 2 * 86400.0, every=3600.0)
    passed = gate.volume_base - GasGateConfig().volume_base
    expected = 1.0 + passed * GasGateConfig().filter_clog_per_nm3
    assert resistance(gate) / first == pytest.approx(expected, rel=0.01), "dust load"
    assert resistance(gate) > first * 1.03, "ΔP at a given flow rises slowly with throughput"
    day = GasGate(quiet(start_hour=3.0))  # same filter, night then morning flows
    night_dp, night_q = value(day, "PDT111"), value(day, "FY301")
    run(day, 5 * 3600.0, every=60.0)
    morning_dp, morning_q = value(day, "PDT111"), value(day, "FY301")
    assert morning_q > 1.4 * night_q
    assert morning_dp / night_dp == pytest.approx((morning_q / night_q) ** 2, rel=0.05)


def test_closing_the_esv_stops_the_flow_and_the_outlet_decays() -> None:
    gate = GasGate(quiet())
    p0, total0 = value(gate, "PT201"), value(gate, "FQ301")
    gate.write("GS1.XV501_CMD", False)
    gate.advance(5.0)
    assert gate.read("GS1.ZSO501") is False
    assert value(gate, "FY301") == 0.0 and value(gate, "FT401") == 0.0
    assert value(gate, "PDT111") == 0.0
    run(gate, 1200.0)
    assert value(gate, "PT201") < p0 - 0.1, "the network drains with the demand"
    assert value(gate, "FQ301") == pytest.approx(total0, abs=2.0)
    assert gate.read("GS1.XA501") is False, "closed by command, not tripped"
    gate.write("GS1.XV501_CMD", True)
    outlets = [float(s["GS1.PT201"]) for s in run(gate, 3600.0, every=10.0)]
    assert max(outlets) < 0.46, "reopening does not overshoot into a trip"
    assert outlets[-1] == pytest.approx(0.39, abs=0.015)
    assert value(gate, "FY301") > 5000


def test_setpoint_write_moves_the_outlet_and_bad_writes_are_refused() -> None:
    gate = GasGate(quiet())
    gate.write("GS1.PIC201_SP", 0.35)
    run(gate, 1800.0)
    assert value(gate, "PT201") == pytest.approx(0.35, abs=0.015)
    assert gate.read("GS1.PIC201_SP") == 0.35
    for point, bad in (("GS1.PIC201_SP", 0.9), ("GS1.PIC201_SP", math.nan), ("GS1.FIC401_SP", 0)):
        with pytest.raises(ValueError, match="outside"):
            gate.write(point, bad)
    with pytest.raises(ValueError, match="not a writable point"):
        gate.write("GS1.PT201", 0.3)
    with pytest.raises(ValueError, match="not a boolean"):
        gate.write("GS1.XV501_CMD", "yes")  # type: ignore[arg-type]
    assert gate.read("GS1.PIC201_SP") == 0.35


def test_filter_clogging_fault_raises_dp_fast_and_a_new_element_clears_it() -> None:
    gate = GasGate(quiet())
    before = value(gate, "PDT111")
    fault = gate.faults.add(FilterClogging(rate=20.0))
    run(gate, 3600.0)
    assert value(gate, "PDT111") > 50.0 > before
    assert gate.read("GS1.PDAH111") is True
    gate.faults.remove(fault)
    gate.advance(60.0)
    assert value(gate, "PDT111") < 2 * before and gate.read("GS1.PDAH111") is False


def test_regulator_failing_open_trips_its_slam_shut_and_standby_takes_over() -> None:
    gate = GasGate(quiet())
    fault = gate.faults.add(RegulatorFailure("A", "open"))
    samples = run(gate, 3600.0, every=10.0)
    peak = max(float(s["GS1.PT201"]) for s in samples)
    assert 0.455 <= peak < 0.48, "creeps up to run A's slam-shut setting, not to the ESV's"
    assert gate.read("GS1.XS211") is False and gate.read("GS1.XS221") is True
    assert gate.read("GS1.YS221") is True and gate.read("GS1.YS211") is False
    assert value(gate, "PT201") == pytest.approx(0.375, abs=0.015), "run B at its setpoint"
    assert gate.read("GS1.ZSO501") is True, "the station keeps supplying"
    gate.faults.remove(fault)
    run(gate, 1800.0)
    assert gate.read("GS1.XS211") is True and gate.read("GS1.YS211") is True
    assert value(gate, "PT201") == pytest.approx(0.39, abs=0.015)


def test_regulator_and_slam_shut_failing_trip_the_esv() -> None:
    gate = GasGate(quiet())
    gate.faults.add(RegulatorFailure("A", "open", slam_shut_fails=True))
    samples = run(gate, 3600.0, every=10.0)
    assert max(float(s["GS1.PT201"]) for s in samples) >= 0.5
    assert gate.read("GS1.XA501") is True and gate.read("GS1.ZSO501") is False
    assert gate.read("GS1.XV501_CMD") is False, "the trip drops the open command"
    assert value(gate, "FY301") == 0.0
    assert value(gate, "PT201") < 0.3, "the outlet decays with the demand"


def test_regulator_failing_closed_hands_over_to_standby() -> None:
    gate = GasGate(quiet())
    gate.faults.add(RegulatorFailure("A", "closed"))
    run(gate, 1800.0)
    assert value(gate, "ZT211") < 1.0 and value(gate, "ZT221") > 10.0
    assert gate.read("GS1.YS221") is True
    assert value(gate, "PT201") == pytest.approx(0.37, abs=0.015)


def test_frozen_meter_holds_flow_and_totaliser_and_loses_the_volume() -> None:
    gate = GasGate(quiet(start_hour=5.0))  # flow rising toward the morning peak
    gate.advance(60.0)
    fault = gate.faults.add(MeterFrozen())
    held = {p: gate.read(f"GS1.{p}") for p in ("FY301", "FT301", "FQ301", "FQ302")}
    injection = value(gate, "FT401")
    run(gate, 7200.0)
    assert {p: gate.read(f"GS1.{p}") for p in held} == held
    assert gate.flow_base > 1.2 * float(held["FY301"]), "the true flow moved on"
    assert value(gate, "FT401") == pytest.approx(injection), "dosing on the frozen signal"
    gate.faults.remove(fault)
    gate.advance(60.0)
    assert value(gate, "FY301") == pytest.approx(gate.flow_base)
    assert float(held["FQ301"]) < value(gate, "FQ301") < float(held["FQ301"]) + 1000.0


def test_fault_bookkeeping() -> None:
    gate = GasGate(quiet(warmup_s=0.0))
    assert not gate.faults.link_lost
    changes: list[int] = []
    unsubscribe = gate.faults.subscribe(lambda: changes.append(1))
    gate.faults.add(LinkLoss())
    assert gate.faults.link_lost
    gate.faults.add(RegulatorFailure("B"))
    gate.faults.add(RegulatorFailure("B", "closed"))  # same key: replaces
    assert [f.key for f in gate.faults.active] == ["link", "regulator:B"]
    assert gate.faults.remove("link") and not gate.faults.remove("link")
    gate.faults.clear()
    assert gate.faults.active == () and len(changes) == 5
    unsubscribe()
    for bad, message in (
        (RegulatorFailure("C"), "unknown run"),
        (RegulatorFailure("A", "ajar"), "unknown failure mode"),
        (FilterClogging(rate=0.0), "rate"),
    ):
        with pytest.raises(ValueError, match=message):
            gate.faults.add(bad)


# ------------------------------------------------------------------ point map and files


def test_point_map_is_consistent() -> None:
    from drivers import driver_class

    gate = GasGate(quiet(warmup_s=0.0))
    opcua = driver_class("opcua")
    assert len(GAS_BY_NAME) == len(GAS_POINTS)
    for p in GAS_POINTS:
        assert p.folder in FOLDERS
        assert p.dtype in ("Double", "Boolean", "UInt32")
        v = gate.true_value(p.name)
        assert isinstance(v, bool) if p.is_bool else isinstance(v, float), p.name
        assert str(opcua.parse(p.address)) == p.address, "canonical address"
        assert NAMESPACE_URI in p.address
        assert p.writable == (p.tag.endswith("_SP") or p.tag.endswith("_CMD")), p.name
    assert {p.folder for p in GAS_POINTS} == set(FOLDERS)


def test_generated_files_are_committed() -> None:
    for path, text in (
        ("docs/gas-station.md", gas_station_markdown()),
        ("docs/mqtt-meters.md", mqtt_meters_markdown()),
        ("resources/demo/tags/gasgate.toml", demo_gas_tags_toml()),
        ("resources/demo/tags/meters.toml", demo_meter_tags_toml()),
    ):
        assert (ROOT / path).read_text(encoding="utf-8") == text, f"{path}: regenerate it"


def test_generated_tags_parse_and_derived_tags_refer_to_known_tags() -> None:
    gas = tomllib.loads(demo_gas_tags_toml())["tag"]
    meters = tomllib.loads(demo_meter_tags_toml())["tag"]
    assert len(gas) == len(GAS_POINTS) + len(GAS_DERIVED)
    assert len(meters) == 4 * 6 + 4 * 2 + len(METER_DERIVED)
    devices = tomllib.loads((ROOT / "resources/demo/devices.toml").read_text(encoding="utf-8"))
    assert devices["GS1"] == {
        "driver": "opcua",
        "host": "127.0.0.1",
        "port": 15030,
        "timeout": "2s",
        "simulate": "gasgate/GS1",
    }
    assert devices["BROKER1"]["simulate"] == "mosquitto" and devices["BROKER1"]["port"] == 15883
    for tag in gas + meters:
        if "address" in tag:
            assert tag["address"].split("/")[2] in devices
    assert sum(t.get("writable", False) for t in gas) == 3

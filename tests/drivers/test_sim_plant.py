"""The heating plant model: physics, controls, faults, register map and generated files."""

from __future__ import annotations

import itertools
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from drivers.modbus.codec import parse_address
from drivers.sim.faults import Frozen, Leak, Offline, Spike, StuckValve
from drivers.sim.mapfiles import DERIVED, demo_devices_toml
from drivers.sim.plant import Plant, PlantConfig, daily_shape
from drivers.sim.registers import (
    BY_NAME,
    REGISTERS,
    SUBSTATIONS,
    demo_tags_toml,
    register_map_markdown,
)
from hmi.projectload import TAG_KEYS

ROOT = Path(__file__).resolve().parents[2]
TAG_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def quiet(**changes: object) -> PlantConfig:
    """A plant without measurement noise (values can be compared exactly)."""
    return PlantConfig(measurement_noise=False, **changes)  # type: ignore[arg-type]


def meter_sum(plant: Plant, point: str) -> float:
    return sum(float(plant.read(f"{ss}.{point}")) for ss in SUBSTATIONS)


# ------------------------------------------------------------------ a day at speed 3600


@dataclass
class Day:
    plant: Plant
    hours: list[float]
    outdoor: list[float]
    samples: list[dict[str, float | bool]]
    source_kwh: float
    consumers_kwh: float
    losses_kwh: float


@pytest.fixture(scope="module")
def day() -> Day:
    """One simulated day at speed 3600, stepped like the server does (0.2 s real per step)."""
    plant = Plant(seed=3, speed=3600.0)
    hours, outdoor, samples = [], [], []
    source = consumers = losses = 0.0
    for _ in range(120):  # 120 × 0.2 s × 3600 = 24 h
        plant.step(0.2)
        hours.append(plant.hour)
        outdoor.append(float(plant.read("HS1.TT100")))
        samples.append(dict(plant.measured))
        b = plant.balance()
        source += b.source_kw * 0.2
        consumers += b.substations_kw * 0.2
        losses += b.losses_kw * 0.2
    return Day(plant, hours, outdoor, samples, source, consumers, losses)


@pytest.mark.slow
def test_stable_for_a_day_at_speed_3600(day: Day) -> None:
    for sample in day.samples:
        for reg in REGISTERS:
            if reg.table != "ir":
                continue
            value = float(sample[reg.name])
            assert math.isfinite(value), reg.name
            if reg.low is not None and reg.high is not None:
                assert reg.low <= value <= reg.high, (reg.name, value)
    for ss in SUBSTATIONS:  # controllers still on setpoint, rooms comfortable
        last = day.samples[-1]
        assert abs(float(last[f"{ss}.TT301"]) - float(last[f"{ss}.TY301"])) < 1.0
        assert 18.0 < float(last[f"{ss}.TT401"]) < 24.0
    # over a whole day the energy stored in the pipes cancels out
    error = (day.source_kwh - day.consumers_kwh - day.losses_kwh) / day.source_kwh
    assert abs(error) < 0.01
    assert 0.01 < day.losses_kwh / day.source_kwh < 0.08


@pytest.mark.slow
def test_outdoor_daily_cycle(day: Day) -> None:
    coldest = day.hours[day.outdoor.index(min(day.outdoor))]
    warmest = day.hours[day.outdoor.index(max(day.outdoor))]
    assert 3.0 <= coldest <= 8.0
    assert 12.0 <= warmest <= 18.0
    assert 5.0 < max(day.outdoor) - min(day.outdoor) < 13.0
    assert daily_shape(5.0) == pytest.approx(-1.0)
    assert daily_shape(15.0) == pytest.approx(1.0)
    assert daily_shape(29.0) == pytest.approx(-1.0)


@pytest.mark.slow
def test_counters_only_increase(day: Day) -> None:
    counters = [r.name for r in REGISTERS if r.counter]
    assert len(counters) == 1 + 2 * len(SUBSTATIONS)
    for name in counters:
        series = [float(s[name]) for s in day.samples]
        assert all(b >= a for a, b in itertools.pairwise(series)), name
        assert series[-1] > series[0], name
    # the meters' energy over the day matches the integrated substation power
    metered = sum(
        float(day.samples[-1][f"{ss}.JQ210"]) - float(day.samples[0][f"{ss}.JQ210"])
        for ss in SUBSTATIONS
    )
    assert metered == pytest.approx(day.consumers_kwh, rel=0.03)


# ------------------------------------------------------------------ physics and controls


def test_steady_state_energy_balance() -> None:
    cfg = PlantConfig(
        outdoor_amplitude=0.0, outdoor_noise=0.0, load_profiles=False, warmup_s=6 * 3600.0
    )
    plant = Plant(cfg)
    plant.advance(60.0)
    balance = plant.balance()
    assert abs(balance.error_pct) < 0.5
    assert 0.01 < balance.losses_kw / balance.source_kw < 0.08
    # the published (noisy) measurements tell the same story within a few percent
    source = float(plant.read("HS1.JT101"))
    delivered = meter_sum(plant, "JT210")
    assert delivered + balance.losses_kw == pytest.approx(source, rel=0.03)
    # and the heat meters agree with flow × cp × ΔT
    for ss in SUBSTATIONS:
        flow, ts, tr = (float(plant.read(f"{ss}.{p}")) for p in ("FT210", "TT211", "TT212"))
        assert float(plant.read(f"{ss}.JT210")) == pytest.approx(flow * 4.186 * (ts - tr), rel=0.03)


def test_plausible_operating_point() -> None:
    plant = Plant(quiet())
    src = plant.source
    assert 70.0 <= src.t_supply <= 120.0
    assert 35.0 < src.t_return < src.t_supply - 20.0
    assert src.p_supply - src.p_return == pytest.approx(src.dp_setpoint, abs=0.01)
    assert src.flow == pytest.approx(sum(s.flow1 for s in plant.substations.values()))
    sizes = [plant.substations[ss].flow1 for ss in SUBSTATIONS]
    assert len({round(f, 1) for f in sizes}) == 4  # four different sizes
    for ss in plant.substations.values():
        assert 10.0 < ss.valve_pos < 100.0
        assert ss.t1_return > ss.t2_return  # counterflow exchanger approach
        assert ss.p1_supply > ss.p1_return


def test_manual_valve_closing_cuts_flow_and_power() -> None:
    plant = Plant(quiet())
    before_flow = float(plant.read("SS2.FT201"))
    before_power = float(plant.read("SS2.JT210"))
    plant.write("SS2.TIC301_AUTO", False)
    plant.write("SS2.ZC301", 20.0)
    plant.advance(120.0)
    assert plant.read("SS2.ZT301") == pytest.approx(20.0)
    assert float(plant.read("SS2.FT201")) < 0.5 * before_flow
    assert float(plant.read("SS2.JT210")) < 0.7 * before_power
    plant.write("SS2.ZC301", 0.0)
    plant.advance(60.0)
    assert plant.read("SS2.FT201") == 0.0


def test_auto_tracks_and_manual_holds() -> None:
    plant = Plant(quiet())
    plant.advance(30.0)
    ss = plant.substations["SS1"]
    assert plant.read("SS1.ZC301") == pytest.approx(ss.valve_pos, abs=2.0)  # command tracks
    plant.write("SS1.TIC301_AUTO", False)
    held = float(plant.read("SS1.ZC301"))
    plant.advance(600.0)
    assert plant.read("SS1.ZC301") == held
    plant.write("SS1.TIC301_AUTO", True)  # bumpless: the valve does not jump
    plant.advance(1.0)
    assert abs(ss.valve_pos - held) < 2.0


def test_pump_off_stops_secondary_flow_and_cools_toward_room() -> None:
    plant = Plant(quiet())
    t2 = float(plant.read("SS3.TT301"))
    plant.write("SS3.HS301", False)
    plant.advance(120.0)
    assert plant.read("SS3.FT301") == 0.0
    assert plant.read("SS3.YS301") is False
    plant.advance(3600.0)
    room = float(plant.read("SS3.TT401"))
    cooled = float(plant.read("SS3.TT301"))
    assert room < cooled < t2 - 15.0
    assert plant.read("SS3.FT201") == 0.0  # interlock closed the valve in AUTO


def test_secondary_temperature_follows_with_lag() -> None:
    plant = Plant(quiet())
    ss = plant.substations["SS1"]
    start = ss.t2_supply
    plant.write("SS1.TIC301_WC", False)
    plant.write("SS1.TIC301_SP", round(ss.setpoint_active + 5.0, 1))
    plant.advance(5.0)
    assert 0.0 < ss.t2_supply - start < 1.0  # not a step
    plant.advance(115.0)
    assert 1.5 < ss.t2_supply - start < 4.5
    plant.advance(1200.0)
    assert ss.t2_supply - start == pytest.approx(5.0, abs=0.5)


def test_deterministic_for_a_seed() -> None:
    cfg = PlantConfig(warmup_s=600.0)
    a, b, c = Plant(cfg, seed=7), Plant(cfg, seed=7), Plant(cfg, seed=8)
    for plant in (a, b, c):
        plant.speed = 60.0
        for _ in range(5):
            plant.step(1.0)
    assert a.measured == b.measured
    assert a.measured != c.measured


def test_writes_are_validated() -> None:
    plant = Plant(quiet(warmup_s=0.0))
    with pytest.raises(ValueError, match="outside"):
        plant.write("SS1.TIC301_SP", 120.0)
    with pytest.raises(ValueError, match="not a writable"):
        plant.write("SS1.TT201", 50.0)
    plant.write("HS1.PDIC101_SP", 4.0)
    assert plant.read("HS1.PDIC101_SP") == 4.0


# ------------------------------------------------------------------ faults


def test_leak_shows_as_mass_imbalance_and_pressure_drop() -> None:
    plant = Plant()
    imbalance = float(plant.read("HS1.FT101")) - meter_sum(plant, "FT201")
    assert abs(imbalance) < 0.1
    pressure = float(plant.read("HS1.PT102"))
    supply_ss4 = float(plant.read("SS4.PT201"))
    plant.faults.add(Leak(segment="N1", rate=2.0))
    plant.advance(900.0)
    imbalance = float(plant.read("HS1.FT101")) - meter_sum(plant, "FT201")
    assert imbalance == pytest.approx(2.0, abs=0.1)
    assert float(plant.read("HS1.FT102")) == pytest.approx(2.0, abs=0.1)  # make-up water
    assert float(plant.read("HS1.PT102")) < pressure - 0.5
    assert float(plant.read("SS4.PT201")) < supply_ss4 - 0.5
    plant.faults.add(Leak(segment="N2", rate=4.0))
    plant.advance(600.0)
    assert plant.read("HS1.PAL102") is True
    assert float(plant.read("HS1.FT101")) - meter_sum(plant, "FT201") == pytest.approx(6.0, abs=0.1)
    plant.faults.clear()
    plant.advance(900.0)
    assert abs(float(plant.read("HS1.FT101")) - meter_sum(plant, "FT201")) < 0.1
    assert float(plant.read("HS1.PT102")) == pytest.approx(pressure, abs=0.05)


def test_frozen_sensor_holds_its_last_value() -> None:
    plant = Plant()
    held = plant.read("SS2.TT201")
    plant.faults.add(Frozen("SS2.TT201"))
    for _ in range(20):
        plant.advance(30.0)
        assert plant.read("SS2.TT201") == held
    assert plant.true_value("SS2.TT201") != held
    plant.faults.remove("frozen:SS2.TT201")
    plant.advance(1.0)
    assert plant.read("SS2.TT201") != held


def test_spiking_sensor_spikes_and_returns() -> None:
    plant = Plant(quiet(warmup_s=600.0))
    plant.faults.add(Spike("SS3.PT201", magnitude=5.0, probability=0.2))
    spiked = []
    for _ in range(200):
        plant.advance(1.0)
        spiked.append(abs(float(plant.read("SS3.PT201")) - float(plant.true_value("SS3.PT201"))))
    spikes = [d > 2.5 for d in spiked]
    assert 15 <= sum(spikes) <= 70
    assert all(d < 1e-9 or d == pytest.approx(5.0) for d in spiked)
    returns = sum(1 for a, b in itertools.pairwise(spikes) if a and not b)
    assert returns >= 10
    plant.faults.remove(Spike("SS3.PT201"))
    plant.advance(1.0)
    assert plant.read("SS3.PT201") == plant.true_value("SS3.PT201")


def test_offline_and_fault_bookkeeping() -> None:
    plant = Plant(quiet(warmup_s=0.0))
    changes: list[int] = []
    unsubscribe = plant.faults.subscribe(lambda: changes.append(1))
    fault = plant.faults.add(Offline("SS4"))
    assert plant.faults.offline("SS4") and plant.faults.offline_stations == {"SS4"}
    assert plant.faults.active == (fault,)
    assert plant.faults.remove(fault) is True
    assert plant.faults.remove(fault) is False
    assert not plant.faults.offline("SS4")
    assert len(changes) == 2
    unsubscribe()
    for bad in (
        Leak("N9"),
        Leak("N1", rate=-1.0),
        Frozen("SS1.NOPE"),
        Frozen("SS1.ZC301"),
        Spike("SS1.YS301"),
        Offline("SS9"),
        StuckValve("HS1"),
    ):
        with pytest.raises(ValueError):
            plant.faults.add(bad)
    assert plant.faults.active == ()


def test_stuck_valve_raises_valve_fault() -> None:
    plant = Plant(quiet())
    plant.faults.add(StuckValve("SS1"))
    position = float(plant.read("SS1.ZT301"))
    plant.write("SS1.TIC301_AUTO", False)
    plant.write("SS1.ZC301", 10.0)
    plant.advance(30.0)
    assert plant.read("SS1.ZT301") == position
    assert plant.read("SS1.ZA301") is False
    plant.advance(60.0)
    assert plant.read("SS1.ZA301") is True
    plant.faults.clear()
    plant.advance(120.0)
    assert plant.read("SS1.ZT301") == pytest.approx(10.0)
    assert plant.read("SS1.ZA301") is False


# ------------------------------------------------------------------ register map and files


def test_register_map_is_consistent() -> None:
    plant = Plant(quiet(warmup_s=0.0))
    seen: dict[tuple[str, int, str], set[int]] = {}
    for reg in REGISTERS:
        assert TAG_NAME.match(reg.name), reg.name
        assert str(parse_address(reg.address)) == reg.address  # canonical, defaults omitted
        value = plant.true_value(reg.name)  # every attribute resolves
        assert isinstance(value, bool) if reg.is_bool else isinstance(value, float | int)
        used = seen.setdefault((reg.device, reg.unit_id, reg.table), set())
        cells = set(range(reg.offset, reg.offset + reg.count))
        assert not used & cells, f"{reg.name} overlaps"
        used |= cells
    for key, used in seen.items():  # contiguous from 0: block reads never hit a hole
        assert used == set(range(len(used))), key
    assert len(BY_NAME) == len(REGISTERS)
    assert BY_NAME["SS1.JQ210"].order == "CDAB" and BY_NAME["SS1.JQ210"].dtype == "uint32"
    assert BY_NAME["SS1.ZT301"].scale == 0.1


def test_generated_files_are_committed() -> None:
    assert (ROOT / "docs/register-map.md").read_text(encoding="utf-8") == register_map_markdown()
    assert (ROOT / "resources/demo/tags.toml").read_text(encoding="utf-8") == demo_tags_toml()
    assert (ROOT / "resources/demo/devices.toml").read_text(encoding="utf-8") == (
        demo_devices_toml()
    )


def test_demo_project_files_parse() -> None:
    project = tomllib.loads((ROOT / "resources/demo/project.toml").read_text(encoding="utf-8"))
    assert set(project) == {"project", "scan", "check", "segment"}
    devices = tomllib.loads(demo_devices_toml())
    heating = ["PLC_HS1", "PLC_SS1", "PLC_SS2", "PLC_SS3", "PLC_SS4"]
    assert list(devices) == [*heating, "GS1", "BROKER1"]
    assert [d["port"] for d in devices.values()] == [
        15020,
        15021,
        15022,
        15023,
        15024,
        15030,
        15883,
    ]
    tags = tomllib.loads(demo_tags_toml())["tag"]
    allowed = set(TAG_KEYS)
    names = [t["name"] for t in tags]
    assert len(names) == len(set(names)) == len(REGISTERS) + len(DERIVED)
    for tag in tags:
        assert set(tag) <= allowed, tag["name"]
        assert ("address" in tag) != ("expr" in tag)
        assert tag.get("scan", "normal") in project["scan"]
        assert tag["type"] in ("float", "int", "bool", "string")
        if "address" in tag:
            assert tag["address"].split("/")[2] in devices
    known = set(names)
    for d in DERIVED:  # derived tags only refer to tags that exist
        refs = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*", d.expr))
        assert refs <= known, d.name


def test_the_node_a_meter_splits_the_balance_per_segment() -> None:
    plant = Plant()

    def balances() -> tuple[float, float]:
        def flow(tag: str) -> float:
            return float(plant.read(tag))

        into_n2 = flow("HS1.FT110")
        n1 = flow("HS1.FT101") - flow("SS1.FT201") - flow("SS2.FT201") - into_n2
        n2 = into_n2 - flow("SS3.FT201") - flow("SS4.FT201")
        return n1, n2

    n1, n2 = balances()
    assert abs(n1) < 0.1 and abs(n2) < 0.1
    plant.faults.add(Leak(segment="N2", rate=3.0))
    plant.advance(900.0)
    n1, n2 = balances()
    assert abs(n1) < 0.1  # the leak shows on N2 only
    assert n2 == pytest.approx(3.0, abs=0.1)
    plant.faults.clear()
    plant.faults.add(Leak(segment="N1", rate=2.0))
    plant.advance(900.0)
    n1, n2 = balances()
    assert n1 == pytest.approx(2.0, abs=0.1)
    assert abs(n2) < 0.1

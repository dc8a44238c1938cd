"""The demo project's alarms: generated from one table, loaded, quiet at normal operation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from drivers.sim.__main__ import GENERATED
from drivers.sim.demo_alarms import DEMO_ALARMS
from drivers.sim.faults import Leak, StuckValve
from drivers.sim.gasgate import GasGate
from drivers.sim.gasgate_faults import FilterClogging, RegulatorFailure
from drivers.sim.model import SteppedModel
from drivers.sim.plant import Plant
from drivers.sim.registers import SUBSTATIONS
from hmi.alarm_config import TAG_KINDS, AlarmDef
from hmi.alarms.model import AlarmKind, Priority
from hmi.expressions import compile_expression
from hmi.project import Project, load_project
from hmi.tags import Quality, Value

ROOT = Path(__file__).resolve().parents[2]
CHECKED = {
    AlarmKind.HIHI,
    AlarmKind.HI,
    AlarmKind.LO,
    AlarmKind.LOLO,
    AlarmKind.DEVIATION,
    AlarmKind.DIGITAL,
}


@pytest.fixture(scope="module")
def project() -> Project:
    """The demo project as the HMI loads it."""
    return load_project(ROOT / "resources/demo")


def tag_alarms(project: Project, *prefixes: str) -> list[AlarmDef]:
    """The project's tag alarms (no device link alarms) whose tag starts with one of `prefixes`."""
    return [a for a in project.alarms.values() if a.kind in CHECKED and a.tag.startswith(prefixes)]


def heating_alarms(project: Project) -> list[AlarmDef]:
    """The alarms on the heating plant's tags: HS1, the substations and the network."""
    return tag_alarms(project, "HS1.", "SS", "NET.")


def lookup_for(project: Project, model: SteppedModel) -> Callable[[str], Value]:
    """Tag name -> its value now: a simulator's published point or a derived tag over them."""

    def lookup(name: str) -> Value:
        if name in project.expressions:
            value, quality, reason = project.expressions[name].evaluate(lookup)
            return Value(value, quality, reason)
        return Value(model.read(name), Quality.GOOD)

    return lookup


def condition(alarm: AlarmDef, lookup: Callable[[str], Value]) -> bool:
    """Whether the alarm's condition holds now (plain comparison: no delays, no deadband)."""
    value = lookup(alarm.tag).value
    limit = alarm.limit
    if alarm.kind is AlarmKind.DIGITAL:
        return bool(value) is alarm.state
    assert limit is not None and isinstance(value, float | int), alarm.id
    if alarm.kind in (AlarmKind.HI, AlarmKind.HIHI):
        return value > limit
    if alarm.kind in (AlarmKind.LO, AlarmKind.LOLO):
        return value < limit
    assert alarm.setpoint is not None
    return abs(value - float(lookup(alarm.setpoint).value)) > limit


def firing(alarms: list[AlarmDef], lookup: Callable[[str], Value]) -> set[str]:
    """The ids of the alarms whose condition holds now."""
    return {a.id for a in alarms if condition(a, lookup)}


def suppressed(alarm: AlarmDef, lookup: Callable[[str], Value]) -> bool:
    """Whether the alarm's suppress expression is true now."""
    assert alarm.suppress is not None
    value, quality, _ = compile_expression(alarm.suppress).evaluate(lookup)
    return quality is Quality.GOOD and bool(value)


# ------------------------------------------------------------------ files and project


def test_generated_files_are_up_to_date() -> None:
    for relative, make in GENERATED.items():
        assert (ROOT / relative).read_text(encoding="utf-8") == make(), (
            f"{relative}: run python -m drivers.sim --write-generated"
        )


def test_demo_project_has_the_alarm_table(project: Project) -> None:
    tags = [a for a in project.alarms.values() if a.kind in TAG_KINDS]
    assert len(tags) == sum(len(v) for v in DEMO_ALARMS.values())
    assert set(DEMO_ALARMS) <= set(project.tags)
    for alarm in tags:
        assert alarm.message_en and alarm.message_zh, alarm.id
        assert any("\u4e00" <= ch <= "\u9fff" for ch in alarm.message_zh), alarm.id
    a = project.alarms
    hi, hihi = a["HS1.TT101.hi"], a["HS1.TT101.hihi"]
    assert (hi.kind, hi.deadband, hi.on_delay, hi.priority) == (
        AlarmKind.HI,
        1.0,
        10.0,
        Priority.HIGH,
    )
    assert hi.message_en == "Supply temperature high" and hi.message_zh == "供水温度过高"
    assert hihi.kind is AlarmKind.HIHI and hihi.latch and hihi.priority is Priority.URGENT
    assert hihi.limit is not None and hi.limit is not None and hihi.limit > hi.limit
    dev = a["HS1.TT101.deviation"]
    assert (dev.setpoint, dev.limit) == ("HS1.TY101", 8.0) and dev.on_delay > 0
    lo = a["HS1.PT101.lo"]
    assert lo.kind is AlarmKind.LO and lo.suppress == "HS1.YS101 == 0"
    pal = a["HS1.PAL102.digital"]
    assert pal.state and pal.priority is Priority.HIGH and pal.message_zh == "回水静压过低"
    for ss in SUBSTATIONS:
        assert {f"{ss}.TT301.hi", f"{ss}.TT301.lo", f"{ss}.TT401.lo", f"{ss}.DP1.lo"} <= set(a)
        assert a[f"{ss}.TT301.lo"].on_delay > 0 and a[f"{ss}.TT301.hi"].on_delay > 0
        assert a[f"{ss}.ZA301.digital"].area == ss
    assert {"GS1.PT201.hi", "GS1.PT201.hihi", "GS1.LAL401.digital", "GS1.PDAH111.digital"} <= set(a)
    assert a["GS1.XA501.digital"].priority is Priority.URGENT
    assert a["GS1.XS211.digital"].state is False


# ------------------------------------------------------------------ quiet at normal operation


def test_a_day_of_the_heating_plant_raises_no_alarm(project: Project) -> None:
    plant = Plant(seed=1)  # the seed the demo servers run with
    alarms = heating_alarms(project)
    assert len(alarms) == sum(len(v) for k, v in DEMO_ALARMS.items() if not k.startswith("GS1."))
    lookup = lookup_for(project, plant)
    rules = {name: compile_expression(r.rule) for name, r in project.diagnostics.rules.items()}
    assert len(rules) == 6
    ranged = [project.tags[t] for t, c in project.diagnostics.signals.items() if c.range]
    assert len(ranged) == 30
    for _ in range(24 * 30):  # a day, every 2 min
        plant.advance(120.0)
        assert firing(alarms, lookup) == set(), f"at {plant.hour:.1f} h"
        for name, rule in rules.items():  # every plausibility rule holds
            value, quality, _ = rule.evaluate(lookup)
            assert quality is Quality.GOOD and value is True, f"{name} at {plant.hour:.1f} h"
        for tag in ranged:  # and every checked transmitter reads within its range
            assert tag.low is not None and tag.high is not None
            assert tag.low <= float(lookup(tag.name).value) <= tag.high, tag.name


def test_a_day_of_the_gas_station_raises_no_alarm(project: Project) -> None:
    gate = GasGate(seed=1)
    alarms = tag_alarms(project, "GS1.")
    assert len(alarms) == sum(len(v) for k, v in DEMO_ALARMS.items() if k.startswith("GS1."))
    lookup = lookup_for(project, gate)
    for _ in range(24 * 60):
        gate.advance(60.0)
        assert firing(alarms, lookup) == set(), f"at {gate.hour:.1f} h"


# ------------------------------------------------------------------ faults make them fire


def test_a_leak_raises_the_pressure_and_make_up_alarms(project: Project) -> None:
    plant = Plant(seed=1)
    alarms = heating_alarms(project)
    plant.faults.add(Leak("N1", 4.0))
    plant.advance(900.0)
    assert firing(alarms, lookup_for(project, plant)) == {
        "HS1.PAL102.digital",
        "HS1.PT101.lo",
        "HS1.FT102.hi",
    }  # the leak alarm naming the segment comes from hmi.diagnostics (tests/e2e)


def test_a_stopped_pump_is_suppressed_by_design(project: Project) -> None:
    plant = Plant(seed=1)
    lookup = lookup_for(project, plant)
    plant.write("HS1.HS101", False)
    plant.advance(120.0)
    now = firing(heating_alarms(project), lookup)
    assert {"HS1.PT101.lo", "HS1.YS101.digital"} <= now
    for alarm_id in now:  # everything the stopped pump raises is suppressed by design
        alarm = project.alarms[alarm_id]
        assert alarm.suppress is not None and suppressed(alarm, lookup), alarm_id


def test_a_stuck_valve_and_a_hot_setpoint_fire_their_alarms(project: Project) -> None:
    plant = Plant(seed=1)
    lookup = lookup_for(project, plant)
    alarms = heating_alarms(project)
    plant.faults.add(StuckValve("SS1"))
    plant.write("SS1.TIC301_AUTO", False)
    plant.write("SS1.ZC301", 10.0)
    plant.advance(90.0)
    assert "SS1.ZA301.digital" in firing(alarms, lookup)
    plant.faults.clear()
    plant.write("SS1.TIC301_AUTO", True)
    plant.write("HS1.TIC101_WC", False)
    plant.write("HS1.TIC101_SP", 112.0)
    plant.advance(3600.0)
    now = firing(alarms, lookup)
    assert "HS1.TT101.hi" in now and "HS1.TT101.hihi" not in now


def test_gas_faults_fire_their_alarms(project: Project) -> None:
    gate = GasGate(seed=1)
    lookup = lookup_for(project, gate)
    alarms = tag_alarms(project, "GS1.")
    gate.faults.add(FilterClogging(rate=20.0))
    gate.advance(3600.0)
    assert firing(alarms, lookup) == {"GS1.PDT111.hi", "GS1.PDAH111.digital"}
    gate.faults.clear()
    gate.faults.add(RegulatorFailure("A", "open"))
    seen: set[str] = set()
    for _ in range(360):
        gate.advance(10.0)
        seen |= firing(alarms, lookup)
    assert {"GS1.PT201.hi", "GS1.PT201.hihi", "GS1.XS211.digital"} <= seen
    assert "GS1.XA501.digital" not in seen, "the slam-shut protects the station: no ESV trip"

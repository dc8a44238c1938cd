"""Data-quality checks, plausibility rules and leak segments in the project files."""

from __future__ import annotations

from pathlib import Path

import pytest

import drivers
from hmi.alarm_config import AlarmDef
from hmi.alarms.model import AlarmKind, Priority
from hmi.diagnostics_config import (
    DiagnosticsSettings,
    LeakSegment,
    PlausibilityRule,
    SignalCheck,
)
from hmi.diagnostics_read import format_duration
from hmi.project import load_project
from hmi.tags import SourceRef
from tests.hmi.test_project import problems, write

PROJECT = """\
[project]
name = "Diagnostics"

[[check]]
name = "HS1_flow_vs_pump"
rule = "HS1.FT101 > 1 or HS1.P101_RUN == 0"
description = "Flow without the pump"

[[check]]
name = "SS2_return_below_supply"
rule = "SS2.TT202 < SS2.TT201 + 1"
for = "5m"
area = "SS2-north"
priority = "medium"
message = { en = "Return hotter than supply", zh_CN = "回水温度高于供水" }

[[segment]]
name = "N1"
description = "HS1 → node A"
inflow = ["HS1.FT101"]
outflow = ["SS1.FT201", "SS2.FT201"]
uncertainty = 0.5
window = "15m"
pressure = ["HS1.PT101"]
running = "HS1.P101_RUN == 1"

[[segment]]
name = "N2"
inflow = ["SS2.FT201"]
outflow = ["SS2.FT202"]
min_duration = "20m"
area = "SS2"
priority = "urgent"
message = { en = "Leak in the SS2 house", zh_CN = "SS2 泄漏" }
"""

DEVICES = """\
[PLC1]
driver = "fake"
alarms = false
"""

TAGS = """\
[[tag]]
name = "SS2.TT201"
description = "Secondary supply temperature"
address = "fake://PLC1/1/ir/0?type=float32"
unit = "°C"
deadband = 0.1
range = [0, 150]
checks = { frozen = "15m", spike_rate = 2.0, range = true, running = "HS1.P101_RUN == 1" }

[[tag]]
name = "SS2.TT202"
description = "二次回水温度"
address = "fake://PLC1/1/ir/2?type=float32"
unit = "°C"

[tag.checks]
frozen = 90
noise = 0.05
area = "SS2-north"
priority = "high"

[[tag]]
name = "HS1.PT101"
address = "fake://PLC1/1/hr/3"
type = "int"
checks = { spike_rate = 0.5, spike_within = "30s", spike_hold = "2h" }

[[tag]]
name = "HS1.P101_RUN"
address = "fake://PLC1/1/co/0"

[[tag]]
name = "HS1.FT101"
address = "fake://PLC1/1/ir/4?type=float32"
unit = "kg/s"

[[tag]]
name = "SS1.FT201"
address = "fake://PLC1/1/ir/6?type=float32"
unit = "kg/s"

[[tag]]
name = "SS2.FT201"
address = "fake://PLC1/1/ir/8?type=float32"
unit = "kg/s"

[[tag]]
name = "SS2.FT202"
address = "fake://PLC1/1/ir/10?type=float32"
unit = "kg/s"
"""


@pytest.fixture(autouse=True)
def fake_drivers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register the test driver as scheme 'fake'."""
    monkeypatch.setitem(drivers.SCHEMES, "fake", "tests.hmi.fake_driver:FakeDriver")


def good(root: Path) -> Path:
    return write(root, {"project.toml": PROJECT, "devices.toml": DEVICES, "tags.toml": TAGS})


def test_durations_read_as_people_write_them() -> None:
    assert [format_duration(s) for s in (0.5, 90, 900, 5400, 7200, 172800)] == [
        "0.5 s",
        "90 s",
        "15 min",
        "90 min",
        "2 h",
        "2 d",
    ]


def test_checks_rules_and_segments_load_into_records(tmp_path: Path) -> None:
    project = load_project(good(tmp_path))
    diagnostics = project.diagnostics
    assert list(diagnostics.signals) == ["SS2.TT201", "SS2.TT202", "HS1.PT101"]
    assert diagnostics.signals["SS2.TT201"] == SignalCheck(
        tag="SS2.TT201",
        frozen_after=900.0,
        noise=0.1,  # the tag's deadband
        spike_rate=2.0,
        range=True,
        running="HS1.P101_RUN == 1",
        area="SS2",
    )
    assert diagnostics.signals["SS2.TT201"].source == SourceRef("tags.toml", 8)
    assert diagnostics.signals["SS2.TT202"] == SignalCheck(
        tag="SS2.TT202", frozen_after=90.0, noise=0.05, area="SS2-north"
    )
    assert diagnostics.signals["SS2.TT202"].source == SourceRef("tags.toml", 16)
    assert diagnostics.signals["HS1.PT101"] == SignalCheck(
        tag="HS1.PT101", spike_rate=0.5, spike_within=30.0, spike_hold=7200.0, area="HS1"
    )
    assert diagnostics.rules == {
        "HS1_flow_vs_pump": PlausibilityRule(
            name="HS1_flow_vs_pump",
            rule="HS1.FT101 > 1 or HS1.P101_RUN == 0",
            on_delay=60.0,
            area="HS1",
            description="Flow without the pump",
        ),
        "SS2_return_below_supply": PlausibilityRule(
            name="SS2_return_below_supply",
            rule="SS2.TT202 < SS2.TT201 + 1",
            on_delay=300.0,
            area="SS2-north",
        ),
    }
    assert diagnostics.rules["SS2_return_below_supply"].source == SourceRef("project.toml", 9)
    assert diagnostics.segments == {
        "N1": LeakSegment(
            name="N1",
            inflow=("HS1.FT101",),
            outflow=("SS1.FT201", "SS2.FT201"),
            uncertainty_pct=0.5,
            window=900.0,
            min_duration=300.0,
            pressure=("HS1.PT101",),
            running="HS1.P101_RUN == 1",
            area="HS1",
            description="HS1 → node A",
            unit="kg/s",
        ),
        "N2": LeakSegment(
            name="N2",
            inflow=("SS2.FT201",),
            outflow=("SS2.FT202",),
            min_duration=1200.0,
            area="SS2",
            unit="kg/s",
        ),
    }
    assert diagnostics.segments["N2"].source == SourceRef("project.toml", 27)
    assert diagnostics


def test_each_check_rule_and_segment_raises_an_alarm_in_both_languages(tmp_path: Path) -> None:
    alarms = load_project(good(tmp_path)).alarms
    assert list(alarms) == [
        "SS2.TT201.frozen",
        "SS2.TT201.spike",
        "SS2.TT201.range",
        "SS2.TT202.frozen",
        "HS1.PT101.spike",
        "check.HS1_flow_vs_pump",
        "check.SS2_return_below_supply",
        "segment.N1.leak",
        "segment.N2.leak",
    ]
    assert alarms["SS2.TT201.frozen"] == AlarmDef(
        id="SS2.TT201.frozen",
        tag="SS2.TT201",
        kind=AlarmKind.FROZEN,
        priority=Priority.LOW,
        area="SS2",
        message_en="SS2.TT201 Secondary supply temperature frozen (no change for 15 min)",
        message_zh="SS2.TT201 Secondary supply temperature 数据冻结（15 min 无变化）",
        input="_quality.SS2.TT201.frozen",
    )
    assert alarms["SS2.TT201.frozen"].source == SourceRef("tags.toml", 8)
    spike = alarms["SS2.TT201.spike"]
    assert (spike.kind, spike.input, spike.limit) == (
        AlarmKind.SPIKE,
        "_quality.SS2.TT201.spike",
        None,
    )
    assert spike.message_en == (
        "SS2.TT201 Secondary supply temperature spikes (jumps faster than 2 °C/s)"
    )
    assert spike.message_zh == "SS2.TT201 Secondary supply temperature 数据跳变（超过 2 °C/s）"
    in_range = alarms["SS2.TT201.range"]
    assert (in_range.kind, in_range.input) == (AlarmKind.RANGE, "_quality.SS2.TT201.range")
    assert in_range.message_en == (
        "SS2.TT201 Secondary supply temperature outside its physical range 0..150 °C"
    )
    assert in_range.message_zh == "SS2.TT201 Secondary supply temperature 超出量程 0..150 °C"
    frozen = alarms["SS2.TT202.frozen"]
    assert (frozen.area, frozen.priority, frozen.source) == (
        "SS2-north",
        Priority.HIGH,
        SourceRef("tags.toml", 17),  # the key in the [tag.checks] table
    )
    assert frozen.message_en == "SS2.TT202 二次回水温度 frozen (no change for 90 s)"
    assert frozen.message_zh == "SS2.TT202 二次回水温度 数据冻结（90 s 无变化）"
    pressure = alarms["HS1.PT101.spike"]
    assert (pressure.area, pressure.message_en) == (
        "HS1",
        "HS1.PT101 spikes (jumps faster than 0.5/s)",
    )
    assert alarms["check.HS1_flow_vs_pump"] == AlarmDef(
        id="check.HS1_flow_vs_pump",
        tag="HS1_flow_vs_pump",
        kind=AlarmKind.PLAUSIBILITY,
        on_delay=60.0,
        priority=Priority.LOW,
        area="HS1",  # the first tag the rule names
        message_en="Implausible: Flow without the pump",
        message_zh="数据不合理：Flow without the pump",
        input="_check.HS1_flow_vs_pump.failed",
    )
    assert alarms["check.HS1_flow_vs_pump"].source == SourceRef("project.toml", 4)
    rule = alarms["check.SS2_return_below_supply"]
    assert (rule.on_delay, rule.priority, rule.area) == (300.0, Priority.MEDIUM, "SS2-north")
    assert (rule.message_en, rule.message_zh) == ("Return hotter than supply", "回水温度高于供水")
    assert alarms["segment.N1.leak"] == AlarmDef(
        id="segment.N1.leak",
        tag="N1",
        kind=AlarmKind.LEAK,
        priority=Priority.HIGH,
        area="HS1",
        message_en="Leak suspected on segment N1 (HS1 → node A): about {value:.2f} kg/s lost",
        message_zh="管段 N1 (HS1 → node A) 疑似泄漏：约 {value:.2f} kg/s",
        input="_leak.N1.rate",
    )
    assert alarms["segment.N1.leak"].source == SourceRef("project.toml", 17)
    n2 = alarms["segment.N2.leak"]
    assert (n2.priority, n2.area, n2.limit, n2.input) == (
        Priority.URGENT,
        "SS2",
        None,
        "_leak.N2.rate",
    )
    assert (n2.message_en, n2.message_zh) == ("Leak in the SS2 house", "SS2 泄漏")


def test_a_project_without_diagnostics_has_empty_settings(tmp_path: Path) -> None:
    tags = '[[tag]]\nname = "HS1.TT101"\naddress = "fake://PLC1/1/ir/0?type=float32"\n'
    root = write(
        tmp_path,
        {"project.toml": '[project]\nname = "Plain"\n', "devices.toml": DEVICES, "tags.toml": tags},
    )
    project = load_project(root)
    assert project.diagnostics == DiagnosticsSettings()
    assert not project.diagnostics
    assert project.alarms == {}


def test_many_mistakes_give_exactly_those_messages(tmp_path: Path) -> None:
    files = {
        "project.toml": """\
        [project]
        name = "Bad"

        [[check]]
        name = "flow_pump"
        rule = "HS1.FT101 > 1 or"
        fro = "1m"

        [[check]]
        name = "temps"
        rule = "SS2.TT202 < SS2.TT2O1"
        priority = "hgih"

        [[check]]
        name = "2nd"
        rule = "1 > 0"

        [[segment]]
        name = "N1"
        inflow = ["HS1.FT101", "HS1.FT10"]
        outflow = ["HS1.FT101", "HS1.P101"]
        window = "10 minutes"
        uncertainty = 25

        [[segment]]
        name = "N1"
        inflow = ["SS2.FT201"]
        outflow = []
        """,
        "devices.toml": DEVICES,
        "tags.toml": """\
        [[tag]]
        name = "SS2.TT201"
        address = "fake://PLC1/1/ir/0?type=float32"
        checks = { frozen = "15 min", range = true, spkie_rate = 2, spike_hold = "1h" }

        [[tag]]
        name = "SS2.TT202"
        address = "fake://PLC1/1/ir/2?type=float32"
        alarms = [{ kind = "rate", limit = 1, name = "frozen" }]
        checks = { frozen = "15m", running = "HS1.RUN == 1 and HS1.PMP > 0" }

        [[tag]]
        name = "HS1.RUN"
        address = "fake://PLC1/1/co/0"
        checks = { frozen = "1h" }

        [[tag]]
        name = "HS1.FT101"
        address = "fake://PLC1/1/ir/4?type=float32"
        checks = "yes"

        [[tag]]
        name = "SS2.FT201"
        address = "fake://PLC1/1/ir/8?type=float32"

        [[tag]]
        name = "HS1.P101"
        address = "fake://PLC1/1/co/1"
        """,
    }
    assert problems(write(tmp_path, files)) == [
        "project.toml:6: check flow_pump: rule: column 17: syntax error: ends too early",
        "project.toml:7: check flow_pump: fro: unknown key (did you mean 'for'?)",
        "project.toml:11: check temps: rule: unknown tag 'SS2.TT2O1' (did you mean 'SS2.TT201'?)",
        "project.toml:12: check temps: priority: unknown priority 'hgih' (did you mean 'high'?)",
        "project.toml:15: check #3: name: bad check name '2nd' (letters, digits and '_', "
        "starting with a letter)",
        "project.toml:16: check #3: rule: names no tag (a rule checks tag values)",
        "project.toml:20: segment N1: inflow: unknown tag 'HS1.FT10' (did you mean 'HS1.FT101'?)",
        "project.toml:21: segment N1: outflow: 'HS1.FT101' is also an inflow (a meter is on one "
        "side of a segment)",
        "project.toml:21: segment N1: outflow: tag 'HS1.P101' is not a number (it is bool)",
        "project.toml:22: segment N1: window: bad duration '10 minutes' (expected a number of "
        "seconds or text like '250ms', '1s', '2m', '1h', '7d')",
        "project.toml:23: segment N1: uncertainty: must be a percentage above 0 and at most 20, "
        "got 25",
        "project.toml:26: segment N1: name: duplicate segment name 'N1' (first defined at "
        "project.toml:18)",
        "project.toml:28: segment N1: outflow: must not be empty (at least one flow meter)",
        "tags.toml:4: tag SS2.TT201 checks: spkie_rate: unknown key (did you mean 'spike_rate'?)",
        "tags.toml:4: tag SS2.TT201 checks: frozen: bad duration '15 min' (expected a number of "
        "seconds or text like '250ms', '1s', '2m', '1h', '7d')",
        "tags.toml:4: tag SS2.TT201 checks: spike_hold: only used with spike_rate",
        "tags.toml:4: tag SS2.TT201 checks: range: range = true needs the tag's range = "
        "[low, high], e.g. [0, 150]",
        "tags.toml:10: tag SS2.TT202 checks: frozen: duplicate alarm id 'SS2.TT202.frozen' "
        '(first defined at tags.toml:9; give one of them a name = "...")',
        "tags.toml:10: tag SS2.TT202 checks: running: unknown tag 'HS1.PMP' (did you mean "
        "'HS1.P101'?)",
        "tags.toml:15: tag HS1.RUN: checks: only a number (float or int) tag has checks; this "
        "tag is bool",
        'tags.toml:20: tag HS1.FT101: checks: expected a table, e.g. { frozen = "15m", '
        "range = true }, got 'yes' (text)",
    ]

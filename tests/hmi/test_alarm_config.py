"""Alarm definitions in the project files: loading, every mistake with file and line, write-back."""

from __future__ import annotations

import dataclasses
import difflib
from pathlib import Path

import pytest

import drivers
from hmi.alarm_config import AlarmDef
from hmi.alarm_edit import set_alarm_field
from hmi.alarms.model import AlarmKind, Priority
from hmi.project import ProjectError, load_project
from hmi.tags import SourceRef
from tests.hmi.test_project import problems, write

PROJECT = '[project]\nname = "Alarms"\n'

DEVICES = """\
[PLC1]
driver = "fake"
alarms = { offline_after = "1m", loss_above = 10, loss_priority = "high" }  # radio link

[PLC2]
driver = "fake"
alarms = false

[PLC3]
driver = "fake"

[PLC4]
driver = "fake"

[PLC4.alarms]
offline_priority = "urgent"
"""

TAGS = """\
# Heat source HS1
[[tag]]
name = "HS1.TT101"
description = "供水温度"
address = "fake://PLC1/1/ir/0?type=float32"
unit = "°C"
alarms = [
  { kind = "hihi", limit = 110, latch = true },  # boiler trip
  { kind = "hi", limit = 95, priority = "high", deadband = 1, on_delay = "5s", off_delay = "2s", \
message = { en = "Supply too hot", zh_CN = "供水温度过高" } },
  { kind = "lo", limit = 40, suppress = "HS1.P101 == 0", area = "HS1-north" },
  { kind = "deviation", limit = 5, setpoint = "HS1.SP" },
  { kind = "rate", limit = 0.5, name = "ramp" },
]

[[tag]]
name = "HS1.P101"
description = "Circulation pump"
address = "fake://PLC1/1/co/0"

[[tag.alarms]]
kind = "digital"
state = false   # stopped is the alarm state
priority = "urgent"

[[tag.alarms]]
kind = "bad_quality"
on_delay = 0

[[tag]]
name = "HS1.SP"
address = "fake://PLC1/1/hr/3"
"""


@pytest.fixture(autouse=True)
def fake_drivers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register the test driver as scheme 'fake'."""
    monkeypatch.setitem(drivers.SCHEMES, "fake", "tests.hmi.fake_driver:FakeDriver")


def good(root: Path) -> Path:
    return write(root, {"project.toml": PROJECT, "devices.toml": DEVICES, "tags.toml": TAGS})


def test_each_kind_loads_with_defaults_and_messages_in_both_languages(tmp_path: Path) -> None:
    alarms = load_project(good(tmp_path)).alarms
    tag_ids = [a for a in alarms if not a.startswith("_")]
    assert tag_ids == [
        "HS1.TT101.hihi",
        "HS1.TT101.hi",
        "HS1.TT101.lo",
        "HS1.TT101.deviation",
        "HS1.TT101.ramp",
        "HS1.P101.digital",
        "HS1.P101.bad_quality",
    ]
    assert alarms["HS1.TT101.hihi"] == AlarmDef(
        id="HS1.TT101.hihi",
        tag="HS1.TT101",
        kind=AlarmKind.HIHI,
        limit=110.0,
        latch=True,
        priority=Priority.HIGH,  # the default of hihi and lolo
        area="HS1",
        message_en="HS1.TT101 供水温度 high high (> 110 °C)",
        message_zh="HS1.TT101 供水温度 高高 (> 110 °C)",
    )
    assert alarms["HS1.TT101.hihi"].source == SourceRef("tags.toml", 8)
    hi = alarms["HS1.TT101.hi"]
    assert (hi.limit, hi.deadband, hi.on_delay, hi.off_delay, hi.latch, hi.priority) == (
        95.0,
        1.0,
        5.0,
        2.0,
        False,
        Priority.HIGH,
    )
    assert (hi.message_en, hi.message_zh) == ("Supply too hot", "供水温度过高")
    assert hi.source == SourceRef("tags.toml", 9)
    lo = alarms["HS1.TT101.lo"]
    assert (lo.priority, lo.area, lo.suppress) == (Priority.MEDIUM, "HS1-north", "HS1.P101 == 0")
    assert lo.message_en == "HS1.TT101 供水温度 low (< 40 °C)"
    dev = alarms["HS1.TT101.deviation"]
    assert (dev.kind, dev.setpoint, dev.limit) == (AlarmKind.DEVIATION, "HS1.SP", 5.0)
    assert dev.message_en == "HS1.TT101 供水温度 deviation from HS1.SP (> ±5 °C)"
    assert dev.message_zh == "HS1.TT101 供水温度 偏离 HS1.SP (> ±5 °C)"
    ramp = alarms["HS1.TT101.ramp"]
    assert (ramp.kind, ramp.limit, ramp.source.line) == (AlarmKind.RATE, 0.5, 12)
    assert ramp.message_zh == "HS1.TT101 供水温度 变化过快 (> 0.5 °C/s)"
    digital = alarms["HS1.P101.digital"]
    assert (digital.state, digital.priority, digital.limit) == (False, Priority.URGENT, None)
    assert digital.message_en == "HS1.P101 Circulation pump is OFF"
    assert digital.source == SourceRef("tags.toml", 20)
    bad = alarms["HS1.P101.bad_quality"]
    assert (bad.kind, bad.on_delay, bad.source.line) == (AlarmKind.BAD_QUALITY, 0.0, 25)
    assert bad.message_zh == "HS1.P101 Circulation pump 数据质量坏"


def test_device_link_alarms_defaults_overrides_and_off(tmp_path: Path) -> None:
    alarms = load_project(good(tmp_path)).alarms
    device_ids = [a for a in alarms if a.startswith("_")]
    assert device_ids == [
        "_diag.PLC1.online.offline",
        "_diag.PLC1.loss_pct.packet_loss",
        "_diag.PLC3.online.offline",
        "_diag.PLC3.loss_pct.packet_loss",
        "_diag.PLC4.online.offline",
        "_diag.PLC4.loss_pct.packet_loss",
    ]  # PLC2: alarms = false
    assert alarms["_diag.PLC3.online.offline"] == AlarmDef(
        id="_diag.PLC3.online.offline",
        tag="_diag.PLC3.online",
        kind=AlarmKind.OFFLINE,
        on_delay=30.0,
        priority=Priority.HIGH,
        area="PLC3",
        message_en="PLC3 offline (no answer for 30 s)",
        message_zh="PLC3 离线 (30 s 无应答)",
    )
    assert alarms["_diag.PLC3.online.offline"].source == SourceRef("devices.toml", 9)
    assert alarms["_diag.PLC3.loss_pct.packet_loss"] == AlarmDef(
        id="_diag.PLC3.loss_pct.packet_loss",
        tag="_diag.PLC3.loss_pct",
        kind=AlarmKind.PACKET_LOSS,
        limit=5.0,
        priority=Priority.MEDIUM,
        area="PLC3",
        message_en="PLC3 packet loss (> 5 %)",
        message_zh="PLC3 丢包率高 (> 5 %)",
    )
    plc1 = alarms["_diag.PLC1.online.offline"], alarms["_diag.PLC1.loss_pct.packet_loss"]
    assert (plc1[0].on_delay, plc1[1].limit, plc1[1].priority) == (60.0, 10.0, Priority.HIGH)
    assert plc1[0].source == SourceRef("devices.toml", 3)
    assert alarms["_diag.PLC4.online.offline"].priority is Priority.URGENT
    assert alarms["_diag.PLC4.online.offline"].source == SourceRef("devices.toml", 15)


def test_many_mistakes_give_exactly_those_messages(tmp_path: Path) -> None:
    files = {
        "project.toml": PROJECT,
        "devices.toml": """\
        [PLC1]
        driver = "fake"
        alarms = { offline_after = "soon", loss_above = 150, loss_prio = "low" }

        [PLC2]
        driver = "fake"
        alarms = "yes"
        """,
        "tags.toml": """\
        [[tag]]
        name = "HS1.TT101"
        address = "fake://PLC1/1/ir/0?type=float32"
        alarms = [
          { kind = "hgih", limit = 95 },
          { kind = "hi" },
          { kind = "hihi", limit = 90, deadband = -1 },
          { kind = "hi", limit = 95 },
          { kind = "lo", limit = 10 },
          { kind = "lolo", limit = 20, priority = "hgih" },
          { kind = "deviation", limit = 3, setpoint = "HS1.SPX" },
          { kind = "bad_quality", limit = 1, name = "q", suppress = "HS1.P102 == " },
          { kind = "rate", limit = 1, suppress = "HS1.P102 == 0", name = "r" },
          { kind = "offline" },
          { kind = "hi", limit = 99 },
        ]

        [[tag]]
        name = "HS1.FT101"
        address = "fake://PLC1/1/ir/2?type=float32"

        [[tag.alarms]]
        kind = "digital"

        [[tag]]
        name = "HS1.P101"
        address = "fake://PLC1/1/co/0"

        [[tag.alarms]]
        kind = "hi"
        limit = 1

        [[tag]]
        name = "HS1.NAME"
        address = "fake://PLC1/1/hr/9?type=string"
        alarms = [{ kind = "lo", limit = 3, message = { en = "", fr = "x" } }]
        """,
    }
    assert problems(write(tmp_path, files)) == [
        "devices.toml:3: device PLC1 alarms: loss_prio: unknown key (did you mean "
        "'loss_priority'?)",
        "devices.toml:3: device PLC1 alarms: offline_after: bad duration 'soon' (expected a "
        "number of seconds or text like '250ms', '1s', '2m', '1h', '7d')",
        "devices.toml:3: device PLC1 alarms: loss_above: must be a percentage above 0 and at "
        "most 100, got 150",
        "devices.toml:7: device PLC2: alarms: expected true, false or a table { offline_after "
        "= ..., loss_above = ... }, got 'yes' (text)",
        "tags.toml:5: tag HS1.TT101 alarm hgih: kind: unknown alarm kind 'hgih' (did you mean "
        "'hihi'?)",
        "tags.toml:6: tag HS1.TT101 alarm hi: limit: missing (a hi alarm needs limit = ...)",
        "tags.toml:7: tag HS1.TT101 alarm hihi: deadband: must not be negative, got -1",
        "tags.toml:7: tag HS1.TT101 alarm hihi: limit: hihi limit 90 must be above the hi limit 95",
        "tags.toml:7: tag HS1.TT101 alarm hihi: limit: hihi limit 90 must be above the hi limit 99",
        "tags.toml:8: tag HS1.TT101 alarm hi: kind: duplicate alarm id 'HS1.TT101.hi' (first "
        'defined at tags.toml:6; give one of them a name = "...")',
        "tags.toml:10: tag HS1.TT101 alarm lolo: priority: unknown priority 'hgih' (did you "
        "mean 'high'?)",
        "tags.toml:10: tag HS1.TT101 alarm lolo: limit: lolo limit 20 must be below the lo "
        "limit 10",
        "tags.toml:11: tag HS1.TT101 alarm deviation: setpoint: unknown tag 'HS1.SPX' (did you "
        "mean 'HS1.P101'?)",
        "tags.toml:12: tag HS1.TT101 alarm q: limit: a bad_quality alarm has no limit",
        "tags.toml:12: tag HS1.TT101 alarm q: suppress: column 12: syntax error: ends too early",
        "tags.toml:13: tag HS1.TT101 alarm r: suppress: unknown tag 'HS1.P102' (did you mean "
        "'HS1.P101'?)",
        "tags.toml:14: tag HS1.TT101 alarm offline: kind: offline alarms are set per device in "
        'devices.toml (alarms = { offline_after = "30s", loss_above = 5.0 })',
        "tags.toml:15: tag HS1.TT101 alarm hi: kind: duplicate alarm id 'HS1.TT101.hi' (first "
        'defined at tags.toml:6; give one of them a name = "...")',
        "tags.toml:23: tag HS1.FT101 alarm digital: kind: a digital alarm needs a bool tag "
        "(this tag is float)",
        "tags.toml:30: tag HS1.P101 alarm hi: kind: a bool tag cannot have a hi alarm (use "
        'kind = "digital")',
        "tags.toml:36: tag HS1.NAME alarm lo: kind: a text (string) tag can only have a "
        "bad_quality alarm, not lo",
        "tags.toml:36: tag HS1.NAME alarm lo message: fr: unknown key (expected one of en, zh_CN)",
        "tags.toml:36: tag HS1.NAME alarm lo message: en: must not be empty (leave it out for "
        "the generated text)",
    ]


def snapshot(root: Path) -> dict[str, object]:
    project = load_project(root)
    return {"tags": project.tags, "devices": project.devices, "alarms": project.alarms}


def changed_lines(before: str, after: str) -> list[str]:
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")]


def test_set_alarm_field_changes_one_line_and_keeps_comments(tmp_path: Path) -> None:
    root = good(tmp_path)
    before = snapshot(root)
    text = (root / "tags.toml").read_text(encoding="utf-8")
    alarm = load_project(root).alarms["HS1.TT101.hihi"]
    set_alarm_field(root, alarm, "limit", 112.5)
    after_text = (root / "tags.toml").read_text(encoding="utf-8")
    assert changed_lines(text, after_text) == [
        '-  { kind = "hihi", limit = 110, latch = true },  # boiler trip',
        '+  { kind = "hihi", limit = 112.5, latch = true },  # boiler trip',
    ]
    after = snapshot(root)
    alarms = after["alarms"]
    assert isinstance(alarms, dict)
    assert alarms["HS1.TT101.hihi"].limit == 112.5
    assert after["tags"] == before["tags"] and after["devices"] == before["devices"]
    expected = dict(before["alarms"])  # type: ignore[call-overload]
    expected["HS1.TT101.hihi"] = dataclasses.replace(
        alarm,
        limit=112.5,
        message_en="HS1.TT101 供水温度 high high (> 112.5 °C)",  # generated, so it follows
        message_zh="HS1.TT101 供水温度 高高 (> 112.5 °C)",
    )
    assert alarms == expected
    assert not list(root.glob(".*.tmp"))  # the temporary file was renamed over the original


def test_set_alarm_field_in_array_of_tables_and_device_defaults(tmp_path: Path) -> None:
    root = good(tmp_path)
    alarms = load_project(root).alarms
    text = (root / "tags.toml").read_text(encoding="utf-8")
    set_alarm_field(root, alarms["HS1.P101.digital"], "priority", "high")
    set_alarm_field(root, alarms["HS1.P101.bad_quality"], "on_delay", "10s")
    assert changed_lines(text, (root / "tags.toml").read_text(encoding="utf-8")) == [
        '-priority = "urgent"',
        '+priority = "high"',
        "-on_delay = 0",
        '+on_delay = "10s"',
    ]
    devices = (root / "devices.toml").read_text(encoding="utf-8")
    set_alarm_field(root, alarms["_diag.PLC3.loss_pct.packet_loss"], "limit", 12.0)
    set_alarm_field(root, alarms["_diag.PLC1.online.offline"], "on_delay", 90)
    assert changed_lines(devices, (root / "devices.toml").read_text(encoding="utf-8")) == [
        '-alarms = { offline_after = "1m", loss_above = 10, loss_priority = "high" }  # radio link',
        '+alarms = { offline_after = 90, loss_above = 10, loss_priority = "high" }  # radio link',
        "+alarms = {loss_above = 12}",
    ]
    reloaded = load_project(root).alarms
    assert reloaded["HS1.P101.digital"].priority is Priority.HIGH
    assert reloaded["HS1.P101.bad_quality"].on_delay == 10.0
    assert reloaded["_diag.PLC3.loss_pct.packet_loss"].limit == 12.0
    assert reloaded["_diag.PLC1.online.offline"].on_delay == 90.0


def test_invalid_edits_are_refused_and_leave_the_file_alone(tmp_path: Path) -> None:
    root = good(tmp_path)
    alarms = load_project(root).alarms
    text = (root / "tags.toml").read_text(encoding="utf-8")
    refusals = [
        (alarms["HS1.TT101.hi"], "limit", 120.0),
        (alarms["HS1.TT101.lo"], "limit", 96),
        (alarms["HS1.TT101.hi"], "deadband", -2),
        (alarms["HS1.TT101.hi"], "priority", "hgih"),
        (alarms["HS1.TT101.hi"], "latch", "yes"),
        (alarms["HS1.TT101.hi"], "message_en", "x"),
        (alarms["HS1.TT101.hi"], "limit", "95"),
        (alarms["_diag.PLC3.online.offline"], "limit", 3.0),
    ]
    messages = []
    for alarm, name, value in refusals:
        with pytest.raises(ProjectError) as caught:
            set_alarm_field(root, alarm, name, value)
        messages.append(str(caught.value))
    assert messages == [
        "tags.toml:8: tag HS1.TT101 alarm hihi: limit: hihi limit 110 must be above the hi "
        "limit 120",
        "tags.toml:9: tag HS1.TT101 alarm hi: limit: hi limit 95 must be above the lo limit 96",
        "tags.toml:9: tag HS1.TT101 alarm hi: deadband: must not be negative, got -2",
        "tags.toml:9: alarm HS1.TT101.hi: priority: unknown priority 'hgih' (did you mean 'high'?)",
        "tags.toml:9: alarm HS1.TT101.hi: latch: expected true or false, got 'yes'",
        "tags.toml:9: alarm HS1.TT101.hi: message_en: cannot be changed at run time (only "
        "limit, deadband, on_delay, off_delay, latch, priority)",
        "tags.toml:9: alarm HS1.TT101.hi: limit: expected a number, got '95'",
        "devices.toml:9: alarm _diag.PLC3.online.offline: limit: cannot be changed on a "
        "offline alarm (only on_delay, priority)",
    ]
    assert (root / "tags.toml").read_text(encoding="utf-8") == text
    assert not list(root.glob(".*.tmp"))


def test_a_deviation_deadband_above_its_limit_is_refused(tmp_path: Path) -> None:
    good(tmp_path)
    extra = (
        "[[tag]]\n"
        'name = "HS1.TT9"\n'
        'address = "fake://PLC1/1/ir/40?type=float32"\n'
        'alarms = [{ kind = "deviation", setpoint = "HS1.TT101", limit = 2, deadband = 3 }]\n'
    )
    found = problems(write(tmp_path, {"tags/dev.toml": extra}))
    assert any(
        "tags/dev.toml:4:" in p and "deadband: 3 is above the limit 2" in p for p in found
    ), found


def test_a_run_time_edit_through_the_engine_is_written_and_refusals_name_file_and_line(
    tmp_path: Path,
) -> None:
    from hmi.alarms.engine import EDIT_LIMITS, AlarmEngine, RequestRefused
    from hmi.tags import Value

    root = good(tmp_path)
    project = load_project(root)

    class Engineer:
        name = "zhang.min"

        def may(self, permission: str, area: str) -> bool:
            return permission == EDIT_LIMITS

    engine = AlarmEngine(
        project.alarms,
        None,
        lambda name: Value.initial(),
        persist=lambda alarm, field, value: set_alarm_field(root, alarm, field, value),
    )
    engine.edit(Engineer(), "HS1.TT101.hi", "limit", 97.5)
    assert load_project(root).alarms["HS1.TT101.hi"].limit == 97.5
    assert "limit = 97.5, priority" in (root / "tags.toml").read_text(encoding="utf-8")
    before = (root / "tags.toml").read_bytes()
    with pytest.raises(RequestRefused, match=r"tags\.toml:\d+.*must be above the hi limit 97\.5"):
        engine.edit(Engineer(), "HS1.TT101.hihi", "limit", 90)
    assert (root / "tags.toml").read_bytes() == before
    assert engine.view("HS1.TT101.hihi").limit == 110

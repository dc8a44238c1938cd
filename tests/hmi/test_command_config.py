"""How writable tags may be commanded, from the project files: rules, defaults and mistakes."""

from __future__ import annotations

from pathlib import Path

import pytest

import drivers
from hmi.command_config import CommandDef, Interlock
from hmi.project import load_project
from hmi.tags import SourceRef
from tests.hmi.test_project import problems, write

PROJECT = '[project]\nname = "Commands"\n'
DEVICES = '[PLC1]\ndriver = "fake"\n'

TAGS = """\
[[tag]]
name = "SS1.ZC301"
description = "Control valve position command"
address = "fake://PLC1/1/hr/0"
unit = "%"
range = [0, 100]
writable = true

[tag.command]
min = 5
max = 95
max_step = 25
critical = true
readback = "SS1.ZT301"
band = 1.0
timeout = "60s"
interlocks = [
  { block = "GS1.PT101 > 4.2", message = { en = "Inlet pressure high", zh_CN = "进口压力高" } },
  { block = "SS1.YS301 == 0" },
]

[[tag]]
name = "SS1.ZT301"
address = "fake://PLC1/1/ir/0"
unit = "%"
range = [0, 100]

[[tag]]
name = "SS1.HS301"
address = "fake://PLC1/1/co/0"
writable = true
command = { critical = true, two_person = true, readback = "SS1.YS301", timeout = "20s" }

[[tag]]
name = "SS1.YS301"
address = "fake://PLC1/1/di/0"

[[tag]]
name = "SS1.TIC301_SP"
address = "fake://PLC1/1/hr/1"
range = [20, 95]
deadband = 0.05
writable = true

[[tag]]
name = "GS1.PT101"
address = "fake://PLC1/1/ir/2"
"""


@pytest.fixture(autouse=True)
def fake_drivers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register the test driver as scheme 'fake'."""
    monkeypatch.setitem(drivers.SCHEMES, "fake", "tests.hmi.fake_driver:FakeDriver")


def test_command_tables_and_defaults_load(tmp_path: Path) -> None:
    root = write(tmp_path, {"project.toml": PROJECT, "devices.toml": DEVICES, "tags.toml": TAGS})
    commands = load_project(root).commands
    assert list(commands) == ["SS1.ZC301", "SS1.HS301", "SS1.TIC301_SP"]
    valve = commands["SS1.ZC301"]
    assert valve == CommandDef(
        tag="SS1.ZC301",
        area="SS1",
        min=5.0,
        max=95.0,
        max_step=25.0,
        critical=True,
        readback="SS1.ZT301",
        band=1.0,
        timeout=60.0,
        interlocks=(
            Interlock("GS1.PT101 > 4.2", "Inlet pressure high", "进口压力高"),
            Interlock("SS1.YS301 == 0", "Interlock: SS1.YS301 == 0", "联锁：SS1.YS301 == 0"),
        ),
    )
    assert valve.source == SourceRef("tags.toml", 9)
    pump = commands["SS1.HS301"]
    assert (pump.critical, pump.two_person, pump.readback, pump.timeout) == (
        True,
        True,
        "SS1.YS301",
        20.0,
    )
    assert pump.min is None and pump.max is None
    # a writable tag without a table: its range, read back from itself
    sp = commands["SS1.TIC301_SP"]
    assert (sp.min, sp.max, sp.readback, sp.band, sp.critical) == (
        20.0,
        95.0,
        "SS1.TIC301_SP",
        pytest.approx(0.075),
        False,
    )


def test_mistakes_are_reported_with_file_line_and_field(tmp_path: Path) -> None:
    tags = """\
    [[tag]]
    name = "A.V1"
    address = "fake://PLC1/1/hr/0"
    range = [0, 100]
    writable = true
    command = { min = 50, max = 40, maxstep = 5, band = -1, timeout = "0s" }

    [[tag]]
    name = "A.V2"
    address = "fake://PLC1/1/hr/1"
    range = [0, 100]
    command = { min = 0 }

    [[tag]]
    name = "A.V3"
    address = "fake://PLC1/1/hr/2"
    range = [0, 100]
    writable = true
    command = { min = -10, readback = "A.NOPE", interlocks = [{ block = "A.V1 >" }, \
{ block = "B.X > 1" }] }

    [[tag]]
    name = "A.P1"
    address = "fake://PLC1/1/co/0"
    writable = true
    command = { max = 1, readback = "A.V1" }
    """
    root = write(tmp_path, {"project.toml": PROJECT, "devices.toml": DEVICES, "tags.toml": tags})
    found = problems(root)
    expected = [
        "tags.toml:6: tag A.V1 command: maxstep: unknown key",
        "tags.toml:6: tag A.V1 command: max: must be above min (50), got 40",
        "tags.toml:6: tag A.V1 command: band: must not be negative, got -1",
        "tags.toml:6: tag A.V1 command: timeout: duration '0s' must be above zero",
        "tags.toml:12: tag A.V2: command: only a writable tag (writable = true) has a command",
        "tags.toml:19: tag A.V3 command: min: -10 is outside the tag's range 0..100",
        "tags.toml:19: tag A.V3 command: interlocks: interlocks[1]:",
        "tags.toml:19: tag A.V3 command: readback: unknown tag 'A.NOPE'",
        "tags.toml:19: tag A.V3 command: interlocks: unknown tag 'B.X' in 'B.X > 1'",
        "tags.toml:25: tag A.P1 command: max: a bool tag has no max",
        "tags.toml:25: tag A.P1 command: readback: A.V1 and A.P1 differ in type",
    ]
    assert len(found) == len(expected), "\n".join(found)
    for line, start in zip(found, expected, strict=True):
        assert line.startswith(start), f"{line!r} does not start with {start!r}"

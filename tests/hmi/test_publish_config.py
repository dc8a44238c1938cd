"""The [publish] section of project.toml: defaults, every mistake with file and line, patterns."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from hmi.project import ProjectError, check_project, load_project
from hmi.publish_config import PublishConfig, parse_size, slug, spool_path

DEVICES = """\
[PLC1]
driver = "modbus"
port = 15020

[BROKER]
driver = "mqtt"
port = 1883
"""
TAGS = """\
[[tag]]
name = "HS1.TT101"
address = "modbus://PLC1/1/hr/0"

[[tag]]
name = "HS1.ALARM_COUNT"
expr = "_diag.publisher.dropped + 0"
"""


def project(root: Path, publish: str, devices: str = DEVICES) -> Path:
    root.mkdir(exist_ok=True)
    (root / "project.toml").write_text(
        '[project]\nname = "Demo District Heating"\n\n[publish]\n' + textwrap.dedent(publish)
    )
    (root / "devices.toml").write_text(devices)
    (root / "tags.toml").write_text(TAGS)
    return root


def problems(root: Path) -> list[str]:
    with pytest.raises(ProjectError) as info:
        load_project(root)
    return [str(p) for p in info.value.problems]


def test_defaults_come_from_the_project(tmp_path: Path) -> None:
    loaded = load_project(project(tmp_path, 'device = "BROKER"\n'))
    assert loaded.publish == PublishConfig(
        device="BROKER",
        format="json",
        topic="conduit/demo-district-heating",
        group="conduit",
        edge_node="demo-district-heating",
        tags=("*",),
        buffer=100 * 1024**2,
        qos=1,
        interval=None,
    )
    assert loaded.publish.source.line == 4  # the [publish] header
    assert not [p for p in check_project(loaded) if "BROKER" in p.context]  # it is used


def test_every_key(tmp_path: Path) -> None:
    loaded = load_project(
        project(
            tmp_path,
            """\
            device = "BROKER"
            format = "sparkplug"
            topic = "site/hs1"
            group = "north"
            edge_node = "hs1"
            tags = ["HS1.*", "_diag.PLC1.*"]
            buffer = "2MB"
            qos = 0
            interval = "500ms"
            """,
        )
    )
    config = loaded.publish
    assert config is not None
    assert (config.format, config.topic, config.group, config.edge_node) == (
        "sparkplug",
        "site/hs1",
        "north",
        "hs1",
    )
    assert config.tags == ("HS1.*", "_diag.PLC1.*")
    assert (config.buffer, config.qos, config.interval) == (2 * 1024**2, 0, 0.5)


def test_unknown_device_wrong_driver_and_bad_format_are_reported_with_lines(
    tmp_path: Path,
) -> None:
    found = problems(project(tmp_path, 'device = "BROKR"\nformat = "xml"\n'))
    assert found == [
        "project.toml:5: [publish]: device: unknown device 'BROKR' (did you mean 'BROKER'?)",
        "project.toml:6: [publish]: format: unknown format 'xml' (expected one of json, sparkplug)",
    ]
    found = problems(project(tmp_path, 'device = "PLC1"\n'))
    assert found == [
        "project.toml:5: [publish]: device: device 'PLC1' uses driver 'modbus'; publishing "
        'needs an MQTT broker device (driver = "mqtt")'
    ]


def test_other_mistakes(tmp_path: Path) -> None:
    found = problems(
        project(
            tmp_path,
            """\
            format = "sparkplug"
            topic = "site/#"
            edge_node = "a/b"
            tags = "HS1.*"
            buffer = "lots"
            qos = 2
            interval = "-1s"
            retain = true
            """,
        )
    )
    assert found[0] == (
        'project.toml:4: [publish]: device: missing (device = "BROKER", an MQTT device of '
        "devices.toml)"
    )
    fields = [p.split(": ")[2] for p in found[1:]]
    assert fields == ["topic", "edge_node", "tags", "buffer", "qos", "interval", "retain"]
    assert "QoS 2 is not supported" in found[5]
    assert found[7].startswith("project.toml:12: [publish]: retain: unknown key")


def test_publish_must_be_a_table(tmp_path: Path) -> None:
    root = project(tmp_path, "")
    (root / "project.toml").write_text('publish = "BROKER"\n[project]\nname = "X"\n')
    assert problems(root)[0] == (
        "project.toml:1: publish: expected a table [publish], got 'BROKER' (text)"
    )


def test_patterns_leave_out_system_tags_unless_named() -> None:
    config = PublishConfig(device="B", tags=("*",))
    assert config.matches("HS1.TT101")
    assert not config.matches("_diag.PLC1.online")
    config = PublishConfig(device="B", tags=("HS1.*", "_diag.publisher.*"))
    assert config.matches("HS1.TT101") and not config.matches("SS1.TT201")
    assert config.matches("_diag.publisher.overflow")
    assert not config.matches("_diag.PLC1.online")


def test_a_pattern_that_selects_nothing_is_a_warning(tmp_path: Path) -> None:
    root = project(tmp_path, 'device = "BROKER"\ntags = ["HS1.*", "SS9.*", "_diag.publisher.*"]\n')
    warnings = [str(p) for p in check_project(load_project(root))]
    assert "project.toml:4: [publish]: tags: 'SS9.*' matches no tag" in warnings
    assert not [w for w in warnings if "'HS1.*'" in w or "_diag" in w]


def test_publisher_system_tags_need_a_publish_section(tmp_path: Path) -> None:
    root = project(tmp_path, 'device = "BROKER"\n')
    (root / "project.toml").write_text('[project]\nname = "X"\n')
    assert any("_diag.publisher.dropped: unknown device 'publisher'" in p for p in problems(root))


def test_sizes_slugs_and_the_spool_file() -> None:
    assert parse_size("200MB") == 200 * 1024**2
    assert parse_size("512 kB") == 512 * 1024
    assert parse_size(4096) == 4096
    with pytest.raises(ValueError, match="minimum"):
        parse_size("10B")
    assert slug("Demo District Heating (north)") == "demo-district-heating-north"
    assert spool_path(Path("/d"), "Demo", "BROKER") == Path("/d/spool/demo-BROKER.sqlite")

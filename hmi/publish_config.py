"""The `[publish]` section of project.toml: its model, its rules, and the publisher's system tags.

Owns `PublishConfig` (which broker device, which format and topics, which tags, how large a
store-and-forward buffer, which QoS, optional coalescing interval), the validation of the
`[publish]` table with file/line/field problems (called by `hmi.projectload` once the devices
are known), the tag pattern rule (`_diag.*` only when a pattern names it), where the buffer file
lives, and the definitions of the `_diag.publisher.*` tags. No I/O, no MQTT, no runtime.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hmi.projectfiles import Fields, did_you_mean
from hmi.resources import slug
from hmi.tags import DataType, SourceRef, TagDef

__all__ = [
    "FORMATS",
    "MQTT_DRIVERS",
    "PUBLISHER_DEVICE",
    "PUBLISHER_FIELDS",
    "PUBLISH_KEYS",
    "PublishConfig",
    "parse_size",
    "publisher_tag_defs",
    "read_publish",
    "slug",
    "spool_path",
    "unmatched_patterns",
]

FORMATS = ("json", "sparkplug")
MQTT_DRIVERS = ("mqtt", "spb")  # device drivers that are an MQTT broker link
PUBLISH_KEYS = (
    "device",
    "format",
    "topic",
    "group",
    "edge_node",
    "tags",
    "buffer",
    "qos",
    "interval",
)
DEFAULT_BUFFER = 100 * 1024**2
MIN_BUFFER = 1024
PUBLISHER_DEVICE = "publisher"  # the `device` part of the `_diag.publisher.*` tags
# (field, unit, type, description) of the publisher's system tags `_diag.publisher.<field>`
PUBLISHER_FIELDS: tuple[tuple[str, str, DataType, str], ...] = (
    ("queued", "", DataType.INT, "Publisher: messages waiting in the store-and-forward buffer"),
    ("dropped", "", DataType.INT, "Publisher: messages dropped because the buffer was full"),
    ("overflow", "", DataType.BOOL, "Publisher: data was dropped since the buffer last drained"),
    ("connected", "", DataType.BOOL, "Publisher: connected to the broker"),
    ("sent_per_s", "1/s", DataType.FLOAT, "Publisher: messages acknowledged per second"),
)
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*(B|kB|KB|KiB|MB|MiB|GB|GiB)?\s*$")
_UNITS = {"B": 1, "kB": 1024, "KB": 1024, "KiB": 1024, "MB": 1024**2, "MiB": 1024**2}
_UNITS |= {"GB": 1024**3, "GiB": 1024**3}
_PATTERN = re.compile(r"^[A-Za-z0-9_.*?\[\]!-]+$")
_TOPIC_BAD = re.compile(r"[+#\x00]")


@dataclass(frozen=True, slots=True)
class PublishConfig:
    """Re-publishing tag values to an MQTT broker, as declared in `[publish]`."""

    device: str
    format: str = "json"
    topic: str = "conduit/project"  # prefix: values on <topic>/values, events on <topic>/events
    group: str = "conduit"  # Sparkplug group id
    edge_node: str = "project"  # Sparkplug edge node id
    tags: tuple[str, ...] = ("*",)
    buffer: int = DEFAULT_BUFFER  # bytes of queued messages (topic + payload) kept on disk
    qos: int = 1
    interval: float | None = None  # seconds to coalesce changes over; None: one per batch
    source: SourceRef = field(default_factory=SourceRef, compare=False)

    def matches(self, name: str) -> bool:
        """True when tag `name` is published: a pattern matches (`_*` tags only if named so)."""
        system = name.startswith("_")
        return any(
            fnmatch.fnmatchcase(name, pattern)
            for pattern in self.tags
            if not system or pattern.startswith("_")
        )


def unmatched_patterns(config: PublishConfig, names: Iterable[str]) -> list[str]:
    """The tag patterns of `config` that select none of `names` (for `conduit check`)."""
    published = [n for n in names if config.matches(n)]
    return [p for p in config.tags if not any(fnmatch.fnmatchcase(n, p) for n in published)]


def spool_path(data_dir: Path, project_name: str, device: str) -> Path:
    """The store-and-forward buffer file of one project and broker device."""
    return data_dir / "spool" / f"{slug(project_name)}-{device}.sqlite"


def parse_size(value: object) -> int:
    """Bytes from an integer or text like '512kB', '200MB', '2GB' (binary multiples)."""
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif isinstance(value, str) and (match := _SIZE.match(value)):
        size = int(float(match.group(1)) * _UNITS[match.group(2) or "B"])
    else:
        raise ValueError(f"bad size {value!r} (expected bytes or text like '200MB', '512kB')")
    if size < MIN_BUFFER:
        raise ValueError(f"size {value!r} is below the minimum of {MIN_BUFFER} bytes")
    return size


def publisher_tag_defs() -> list[TagDef]:
    """Definitions of the `_diag.publisher.*` tags."""
    return [
        TagDef(
            name=f"_diag.{PUBLISHER_DEVICE}.{name}",
            description=text,
            unit=unit,
            type=dtype,
            decimals=1 if dtype is DataType.FLOAT else None,
            history=name in ("queued", "overflow", "connected"),
        )
        for name, unit, dtype, text in PUBLISHER_FIELDS
    ]


def read_publish(
    fields: Fields, project_name: str, device_drivers: Mapping[str, str | None], devices_known: bool
) -> PublishConfig | None:
    """Validate the `[publish]` table; None when it has problems (each reported with its line)."""
    fields.unknown(PUBLISH_KEYS)
    device = fields.text("device", required='device = "BROKER", an MQTT device of devices.toml')
    if device is not None and devices_known:
        _check_device(fields, device, device_drivers)
    fmt = fields.text("format", "json") or "json"
    if fmt not in FORMATS:
        fields.problem("format", f"unknown format {fmt!r}" + did_you_mean(fmt, FORMATS))
    name = slug(project_name)
    topic = fields.text("topic", f"conduit/{name}") or ""
    if not topic or topic.startswith(("/", "$")) or topic.endswith("/") or _TOPIC_BAD.search(topic):
        fields.problem(
            "topic",
            f"bad topic prefix {topic!r} (levels separated by '/', no wildcards '+' or '#', "
            "not starting with '/' or '$', not ending with '/')",
        )
    group = _sparkplug_id(fields, "group", "conduit")
    edge_node = _sparkplug_id(fields, "edge_node", name)
    patterns = _patterns(fields)
    buffer = DEFAULT_BUFFER
    if "buffer" in fields.table:
        try:
            buffer = parse_size(fields.table["buffer"])
        except ValueError as exc:
            fields.problem("buffer", str(exc))
    qos = fields.integer("qos", 1, 0, 2)
    if qos == 2:
        fields.problem(
            "qos", "QoS 2 is not supported: use 1 (at least once; `seq` reveals duplicates) or 0"
        )
    interval = fields.duration("interval", 0.0) if "interval" in fields.table else None
    if fields.failed or device is None:
        return None
    return PublishConfig(
        device=device,
        format=fmt,
        topic=topic,
        group=group,
        edge_node=edge_node,
        tags=patterns,
        buffer=buffer,
        qos=qos if qos is not None else 1,
        interval=interval,
        source=SourceRef(fields.file.rel, fields.header),
    )


def _check_device(fields: Fields, device: str, device_drivers: Mapping[str, str | None]) -> None:
    if device not in device_drivers:
        hint = did_you_mean(device, device_drivers, listing=False)
        fields.problem(
            "device", f"unknown device {device!r}" + (hint or " (declare it in devices.toml)")
        )
        return
    driver = device_drivers[device]
    if driver is not None and driver not in MQTT_DRIVERS:
        fields.problem(
            "device",
            f"device {device!r} uses driver {driver!r}; publishing needs an MQTT broker device "
            '(driver = "mqtt")',
        )
    if PUBLISHER_DEVICE in device_drivers:
        fields.problem(
            "",
            f"a device named {PUBLISHER_DEVICE!r} clashes with the publisher's system tags "
            f"_diag.{PUBLISHER_DEVICE}.*: rename the device",
        )


def _sparkplug_id(fields: Fields, key: str, default: str) -> str:
    value = fields.text(key, default) or ""
    if not value or any(c in value for c in "/+#"):
        fields.problem(key, f"bad Sparkplug id {value!r} (not empty, no '/', '+' or '#')")
    return value


def _patterns(fields: Fields) -> tuple[str, ...]:
    if "tags" not in fields.table:
        return ("*",)
    value = fields.table["tags"]
    if not isinstance(value, list) or not value or not all(isinstance(p, str) for p in value):
        fields.problem("tags", 'expected a list of tag name patterns, e.g. ["HS1.*", "SS?.TT*"]')
        return ("*",)
    for pattern in value:
        if not _PATTERN.fullmatch(pattern):
            fields.problem(
                "tags",
                f"bad pattern {pattern!r} (tag name characters with the wildcards * ? [...])",
            )
    return tuple(value)

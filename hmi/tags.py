"""The tag model: a tag's definition and the value it carries (value, quality, timestamps).

Plain data with no I/O. Scaling, units and deadband belong to the tag, not to the address, so
every protocol is converted the same way (`TagDef.to_engineering`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from drivers.address import Address
from drivers.base import Quality, Reason

__all__ = ["TAG_NAME", "DataType", "Quality", "Reason", "SourceRef", "TagDef", "Value"]

TAG_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class DataType(StrEnum):
    """Engineering data type of a tag (what the operator sees)."""

    FLOAT = "float"
    INT = "int"
    BOOL = "bool"
    STRING = "string"


@dataclass(frozen=True, slots=True)
class Value:
    """A tag's current value with its quality and both timestamps (epoch seconds)."""

    value: Any
    quality: Quality
    reason: Reason = Reason.NONE
    source_ts: float | None = None
    recv_ts: float = 0.0

    @property
    def good(self) -> bool:
        """True when the value can be shown and used as a number."""
        return self.quality is Quality.GOOD

    @classmethod
    def initial(cls) -> Value:
        """The value of a tag before anything was received."""
        return cls(None, Quality.BAD, Reason.INITIAL)


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where a definition came from, for messages: file and line."""

    file: str = ""
    line: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True, slots=True)
class TagDef:
    """A tag as declared in the project."""

    name: str
    address: Address | None = None
    expr: str | None = None
    description: str = ""
    unit: str = ""
    type: DataType = DataType.FLOAT
    scale: float = 1.0
    offset: float = 0.0
    deadband: float = 0.0
    scan: str = "normal"
    low: float | None = None  # physical range; outside it the value is bad(out_of_range)
    high: float | None = None
    writable: bool = False
    decimals: int | None = None
    history: bool = True
    history_deadband: float | None = None  # None: `deadband`
    history_min_interval: float = 0.0  # seconds between recorded changes, at least
    history_max_interval: float | None = None  # heartbeat; None: the project's default
    source: SourceRef = field(default_factory=SourceRef, compare=False)

    @property
    def is_calc(self) -> bool:
        """True for derived tags (computed from an expression, no address)."""
        return self.expr is not None

    def to_engineering(self, raw: Any) -> tuple[Any, Quality, Reason]:
        """Convert a raw driver value to this tag's engineering value and check its range."""
        if self.type is DataType.BOOL:
            return bool(raw), Quality.GOOD, Reason.NONE
        if self.type is DataType.STRING:
            return str(raw), Quality.GOOD, Reason.NONE
        try:
            number = float(raw) * self.scale + self.offset
        except (TypeError, ValueError):
            return None, Quality.BAD, Reason.DECODE_ERROR
        if not math.isfinite(number):
            return None, Quality.BAD, Reason.DECODE_ERROR
        value: Any = round(number) if self.type is DataType.INT else number
        if (self.low is not None and number < self.low) or (
            self.high is not None and number > self.high
        ):
            return value, Quality.BAD, Reason.OUT_OF_RANGE
        return value, Quality.GOOD, Reason.NONE

    def to_raw(self, value: Any) -> Any:
        """Convert an engineering value back to the raw value a driver writes."""
        if self.type in (DataType.BOOL, DataType.STRING):
            return value
        raw = (float(value) - self.offset) / self.scale
        return raw

    def changed(self, old: Value, new: Value) -> bool:
        """True when `new` differs from `old` enough to be published (deadband, quality)."""
        if old.quality != new.quality or old.reason != new.reason:
            return True
        if old.value is None or new.value is None:
            return old.value is not new.value
        if self.deadband > 0 and isinstance(new.value, float) and isinstance(old.value, float):
            return abs(new.value - old.value) > self.deadband
        return bool(new.value != old.value)


# Link diagnostics readable as tags `_diag.<device>.<field>`: (field, unit, type, description).
LINK_FIELDS: tuple[tuple[str, str, DataType, str], ...] = (
    ("online", "", DataType.BOOL, "Device link online"),
    ("last_change", "s", DataType.FLOAT, "Time of the last online/offline change (epoch seconds)"),
    ("requests", "", DataType.INT, "Requests sent"),
    ("errors", "", DataType.INT, "Error answers (exception responses, garbage)"),
    ("timeouts", "", DataType.INT, "Requests without an answer in time"),
    ("reconnects", "", DataType.INT, "Reconnections after a link loss"),
    ("rtt_p50_ms", "ms", DataType.FLOAT, "Response time, median"),
    ("rtt_p99_ms", "ms", DataType.FLOAT, "Response time, 99th percentile"),
    ("loss_pct", "%", DataType.FLOAT, "Packet loss over the recent requests"),
)


def link_tag_name(device: str, field_name: str) -> str:
    """The name of a link diagnostics tag, e.g. `_diag.PLC1.loss_pct`."""
    return f"_diag.{device}.{field_name}"


def link_tag_defs(device: str) -> list[TagDef]:
    """Definitions of the diagnostics tags of one device."""
    return [
        TagDef(
            name=link_tag_name(device, name),
            description=f"{device}: {text}",
            unit=unit,
            type=dtype,
            decimals=1 if dtype is DataType.FLOAT else None,
            history=name in ("online", "loss_pct", "rtt_p99_ms"),
        )
        for name, unit, dtype, text in LINK_FIELDS
    ]


def format_value(tag: TagDef, value: Value) -> str:
    """A value as a person reads it: number with unit, or the quality when bad."""
    if value.value is None:
        return f"BAD ({value.reason or 'no value'})"
    if isinstance(value.value, bool):
        text = "ON" if value.value else "OFF"
    elif isinstance(value.value, float):
        decimals = 2 if tag.decimals is None else tag.decimals
        text = f"{value.value:.{decimals}f}"
    else:
        text = str(value.value)
    if tag.unit:
        text += f" {tag.unit}"
    if not value.good:
        text += f" ({value.quality.name.lower()}: {value.reason})"
    return text

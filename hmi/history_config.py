"""History settings of a project: `[history]` in project.toml and a tag's `history = {...}`.

project.toml:

    [history]
    retention = "365d"     # raw samples older than this are deleted once rolled up
    max_interval = "10m"   # default heartbeat: a value is logged at least this often

A tag: `history = false`, `history = true`, or a table overriding the recording of that tag:

    history = { deadband = 0.2, min_interval = "5s", max_interval = "1m" }

Plain data and parsing only; the historian (`hmi.history`) applies them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hmi.projectfiles import Fields

__all__ = ["HOLD_MAX", "HistorySettings", "TagHistory", "read_history", "read_tag_history"]

HOLD_MAX = 3600.0  # longest gap a sample covers in time-weighted aggregates (seconds)
_DAY = 86400.0


@dataclass(frozen=True, slots=True)
class HistorySettings:
    """Project-wide history settings (`[history]`)."""

    retention: float = 365 * _DAY  # seconds raw samples are kept
    max_interval: float = 600.0  # default heartbeat, seconds


@dataclass(frozen=True, slots=True)
class TagHistory:
    """How one tag is recorded: on or off, deadband, min and max interval (None = default)."""

    enabled: bool = True
    deadband: float | None = None  # None: the tag's own deadband
    min_interval: float = 0.0  # seconds; changes closer than this are held back
    max_interval: float | None = None  # seconds; None: the project's max_interval


def read_history(fields: Fields) -> HistorySettings:
    """The `[history]` table of project.toml (problems reported through `fields`)."""
    fields.unknown(("retention", "max_interval"))
    default = HistorySettings()
    retention = fields.duration("retention", default.retention)
    if retention < 3600:
        fields.problem("retention", "must be at least 1h (rollups are made per hour)")
        retention = default.retention
    max_interval = fields.duration("max_interval", default.max_interval)
    if max_interval > HOLD_MAX:
        fields.problem("max_interval", _too_long(max_interval))
        max_interval = default.max_interval
    return HistorySettings(retention=retention, max_interval=max_interval)


def read_tag_history(fields: Fields) -> TagHistory:
    """A tag's `history` field: true, false or a table (problems reported through `fields`)."""
    value: Any = fields.table.get("history", True)
    if isinstance(value, bool):
        return TagHistory(enabled=value)
    if not isinstance(value, dict):
        fields.wrong("history", "true, false or a table { deadband = ..., max_interval = ... }")
        return TagHistory()
    sub = Fields(
        fields.report, fields.file, fields.line("history"), f"{fields.context} history", value
    )
    sub.unknown(("deadband", "min_interval", "max_interval"))
    deadband = sub.number("deadband", None)
    if deadband is not None and deadband < 0:
        sub.problem("deadband", f"must not be negative, got {deadband:g}")
        deadband = None
    min_interval = sub.duration("min_interval", 0.0)
    max_interval: float | None = sub.duration("max_interval", 0.0) or None
    if max_interval is not None and max_interval > HOLD_MAX:
        sub.problem("max_interval", _too_long(max_interval))
        max_interval = None
    if max_interval is not None and min_interval > max_interval:
        sub.problem("min_interval", "must not be longer than max_interval")
    if sub.failed:
        fields.failed = True
    return TagHistory(deadband=deadband, min_interval=min_interval, max_interval=max_interval)


def _too_long(seconds: float) -> str:
    return (
        f"{seconds:g} s is longer than 1h: a longer silence reads as 'not recorded' in "
        "time-weighted report averages"
    )

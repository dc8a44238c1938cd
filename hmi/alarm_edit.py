"""Writing a changed alarm field (a limit, a delay, a priority) back into the project files.

Only that value changes: tomlkit keeps every comment and the layout of the rest of the file.
The edited file is checked with the loader's own rules before it is written (atomically);
a refused change raises ProjectError with file and line and leaves the file as it was.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomlkit

from hmi.alarm_config import EDITABLE_FIELDS, PRIORITIES, AlarmDef, AlarmReader
from hmi.alarms.model import AlarmKind, Priority
from hmi.projectfiles import Fields, Problem, ProjectError, Report, TomlFile, did_you_mean
from hmi.tags import DataType

__all__ = ["set_alarm_field"]


_DEVICE_FIELDS = {
    AlarmKind.OFFLINE: {"on_delay": "offline_after", "priority": "offline_priority"},
    AlarmKind.PACKET_LOSS: {"limit": "loss_above", "priority": "loss_priority"},
}


def set_alarm_field(
    project_root: Path, alarm: AlarmDef, field: str, value: float | str | bool
) -> None:
    """Change one field of one alarm in its file, keeping comments; ProjectError if refused."""
    rel = alarm.source.file
    path = project_root / rel
    where = Problem(rel, alarm.source.line, field, "", f"alarm {alarm.id}")

    def refuse(message: str) -> ProjectError:
        return ProjectError([Problem(where.file, where.line, field, message, where.context)])

    raw = path.read_bytes()
    bom = raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    doc = tomlkit.parse(text)
    device = alarm.kind in _DEVICE_FIELDS
    if device:
        key = _DEVICE_FIELDS[alarm.kind].get(field)
        if key is None:
            allowed = ", ".join(_DEVICE_FIELDS[alarm.kind])
            raise refuse(f"cannot be changed on a {alarm.kind} alarm (only {allowed})")
    elif field not in EDITABLE_FIELDS:
        raise refuse(f"cannot be changed at run time (only {', '.join(EDITABLE_FIELDS)})")
    else:
        key = field
    written = _toml_value(field, value)
    if isinstance(written, str) and written.startswith("!"):
        raise refuse(written[1:])
    table = _device_table(doc, alarm) if device else _tag_entry(doc, alarm)
    if table is None:
        raise refuse(f"not found in {rel} any more (was the file changed since it was loaded?)")
    table[key] = written
    new_text = tomlkit.dumps(doc)
    problems = _validate(rel, new_text, alarm)
    if problems:
        raise ProjectError(problems)
    _write_atomic(path, new_text, bom)


def _toml_value(field: str, value: float | str | bool) -> Any:
    """The TOML value to write for a field, or '!<message>' when the value has the wrong type."""
    if field == "latch":
        return value if isinstance(value, bool) else f"!expected true or false, got {value!r}"
    if field == "priority":
        if isinstance(value, Priority):
            return value.name.lower()
        if isinstance(value, str) and value in PRIORITIES:
            return value
        hint = did_you_mean(value, PRIORITIES) if isinstance(value, str) else ""
        return f"!unknown priority {value!r}" + (
            hint or f" (expected one of {', '.join(PRIORITIES)})"
        )
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return f"!expected a number, got {value!r}"
    if isinstance(value, str) and field not in ("on_delay", "off_delay"):
        return f"!expected a number, got {value!r}"
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)  # "limit = 96", as a person writes it
    return value


def _alarm_id(tag: str, entry: Mapping[str, Any]) -> str:
    return f"{tag}.{entry.get('name') or entry.get('kind')}"


def _tag_entry(doc: Any, alarm: AlarmDef) -> Any:
    """The tomlkit table of a tag alarm's entry, or None."""
    for tag in doc.get("tag", []):
        if isinstance(tag, dict) and tag.get("name") == alarm.tag:
            for entry in tag.get("alarms", []):
                if isinstance(entry, dict) and _alarm_id(alarm.tag, entry) == alarm.id:
                    return entry
    return None


def _device_table(doc: Any, alarm: AlarmDef) -> Any:
    """The tomlkit `alarms` table of a device (made when the device uses the defaults)."""
    table = doc.get(alarm.area)
    if not isinstance(table, dict):
        return None
    current = table.get("alarms", True)
    if current is False:
        return None
    if not isinstance(current, dict):
        table["alarms"] = tomlkit.inline_table()
    return table["alarms"]


def _validate(rel: str, text: str, alarm: AlarmDef) -> list[Problem]:
    """The problems of the changed tag or device, read by the same rules as the loader."""
    report = Report()
    data = tomllib.loads(text)
    file = TomlFile(rel, text, data)
    reader = AlarmReader(report)
    if alarm.kind in _DEVICE_FIELDS:
        table = data.get(alarm.area, {})
        header = file.table_line(alarm.area) or file.key_line(0, alarm.area)
        reader.read_device(Fields(report, file, header, f"device {alarm.area}", table), alarm.area)
        return report.sorted()
    for index, entry in enumerate(data.get("tag", [])):
        if isinstance(entry, dict) and entry.get("name") == alarm.tag:
            declared = entry.get("type")
            data_type = DataType(declared) if declared in set(DataType) else None
            header = file.array_line("tag", index)
            fields = Fields(report, file, header, f"tag {alarm.tag}", entry)
            reader.read_tag(fields, alarm.tag, data_type)
    return report.sorted()


def _write_atomic(path: Path, text: str, bom: bool) -> None:
    """Replace `path` with `text` at once: a temporary file beside it, then os.replace."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, stat.S_IMODE(path.stat().st_mode))
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise

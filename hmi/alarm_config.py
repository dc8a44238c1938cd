"""Alarm definitions of a project: a tag's `alarms = [...]` and a device's link `alarms = {...}`.

A tag in a tags file (inline tables, or `[[tag.alarms]]` tables after the `[[tag]]`):

    alarms = [
      { kind = "hi", limit = 95, priority = "high", deadband = 1, on_delay = "5s" },
      { kind = "lo", limit = 20, suppress = "HS1.P101.RUN == 0",
        message = { en = "Supply too cold", zh_CN = "供水温度过低" } },
    ]

A device in devices.toml: `alarms = { offline_after = "30s", loss_above = 5.0 }` (the defaults
apply to a device without it), or `alarms = false`.

Owns the `AlarmDef` record, the rules those tables must follow (every broken rule reported
with file, line and field through a `Report`); `hmi.alarm_edit` writes a changed field back.
Plain data and file rules only: the alarm state machine (`hmi.alarms`) evaluates them.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from hmi.alarms.model import AlarmKind, Priority
from hmi.expressions import ExpressionError, compile_expression
from hmi.projectfiles import Fields, Report, did_you_mean
from hmi.tags import TAG_NAME, DataType, SourceRef, link_tag_name

__all__ = [
    "DEVICE_ALARM_KEYS",
    "EDITABLE_FIELDS",
    "TAG_ALARM_KEYS",
    "TAG_KINDS",
    "AlarmDef",
    "AlarmReader",
    "LineFields",
    "read_messages",
    "read_priority",
    "reference_problem",
]

TAG_KINDS = (
    AlarmKind.HIHI,
    AlarmKind.HI,
    AlarmKind.LO,
    AlarmKind.LOLO,
    AlarmKind.DEVIATION,
    AlarmKind.RATE,
    AlarmKind.DIGITAL,
    AlarmKind.BAD_QUALITY,
)
LIMIT_KINDS = frozenset(TAG_KINDS[:6])
TAG_ALARM_KEYS = (
    "kind",
    "name",
    "limit",
    "setpoint",
    "state",
    "deadband",
    "on_delay",
    "off_delay",
    "latch",
    "priority",
    "area",
    "message",
    "suppress",
)
DEVICE_ALARM_KEYS = ("offline_after", "offline_priority", "loss_above", "loss_priority")
EDITABLE_FIELDS = ("limit", "deadband", "on_delay", "off_delay", "latch", "priority")
PRIORITIES = {p.name.lower(): p for p in Priority}
OFFLINE_AFTER = 30.0  # seconds without an answer before a device's offline alarm
LOSS_ABOVE = 5.0  # percent packet loss that raises a device's loss alarm

_KIND_NAMES = tuple(k.value for k in TAG_KINDS)
_ALARM_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_ARRAY_HEADER = re.compile(r"^\s*\[\[\s*(?P<name>[^\[\]]+?)\s*\]\]\s*(?:#.*)?$")
_ZERO = re.compile(r"^\s*0+(\.0*)?\s*(ms|s|m|h|d)?\s*$")
# kind -> (English, Chinese) words of the generated message
_WORDS: dict[AlarmKind, tuple[str, str]] = {
    AlarmKind.HIHI: ("high high", "高高"),
    AlarmKind.HI: ("high", "高"),
    AlarmKind.LO: ("low", "低"),
    AlarmKind.LOLO: ("low low", "低低"),
    AlarmKind.DEVIATION: ("deviation from", "偏离"),
    AlarmKind.RATE: ("changing fast", "变化过快"),
    AlarmKind.DIGITAL: ("is", "为"),
    AlarmKind.BAD_QUALITY: ("bad quality", "数据质量坏"),
    AlarmKind.OFFLINE: ("offline", "离线"),
    AlarmKind.PACKET_LOSS: ("packet loss", "丢包率高"),
}


@dataclass(frozen=True, slots=True)
class AlarmDef:
    """One alarm as declared in the project: what it watches, when it fires, how it reads."""

    id: str  # "<tag>.<kind>", or "<tag>.<name>" when named; unique
    tag: str
    kind: AlarmKind
    limit: float | None = None  # limit kinds and packet loss; None otherwise
    setpoint: str | None = None  # deviation: the tag the value is compared with
    state: bool = True  # digital: the value that is the alarm state
    deadband: float = 0.0  # the value must come back this far inside the limit to clear
    on_delay: float = 0.0  # seconds the condition must hold before the alarm activates
    off_delay: float = 0.0  # seconds the condition must be gone before the alarm clears
    latch: bool = False  # stays active until a person resets it
    priority: Priority = Priority.MEDIUM
    area: str = ""  # station, for filtering and per-console KPIs
    message_en: str = ""
    message_zh: str = ""
    suppress: str | None = None  # expression: while true the alarm is suppressed by design
    input: str | None = None  # the tag evaluated, when not `tag` (e.g. a diagnostics finding)
    source: SourceRef = field(default_factory=SourceRef, compare=False)


def _number(value: float) -> str:
    return f"{value:g}"


def default_messages(
    kind: AlarmKind,
    subject: str,
    limit: float | None,
    unit: str,
    *,
    setpoint: str | None = None,
    state: bool = True,
) -> tuple[str, str]:
    """The generated English and Chinese message of an alarm, e.g. 'X high (> 95 °C)'."""
    en, zh = _WORDS.get(kind, (kind.value, kind.value))
    suffix = f" {unit}" if unit else ""
    shown = _number(limit) if limit is not None else ""
    if kind in (AlarmKind.HIHI, AlarmKind.HI, AlarmKind.PACKET_LOSS):
        tail = f" (> {shown}{suffix})"
    elif kind in (AlarmKind.LO, AlarmKind.LOLO):
        tail = f" (< {shown}{suffix})"
    elif kind is AlarmKind.DEVIATION:
        return (
            f"{subject} deviation from {setpoint} (> ±{shown}{suffix})",
            f"{subject} 偏离 {setpoint} (> ±{shown}{suffix})",
        )
    elif kind is AlarmKind.RATE:
        tail = f" (> {shown}{suffix}/s)"
    elif kind is AlarmKind.DIGITAL:
        word = "ON" if state else "OFF"
        return f"{subject} is {word}", f"{subject} 为 {word}"
    else:
        tail = ""
    return f"{subject} {en}{tail}", f"{subject} {zh}{tail}"


class LineFields(Fields):
    """Fields of a table written on one line (an inline table): every key is on that line."""

    def line(self, key: str) -> int:
        """The line of the table itself."""
        return self.header


def _unquote(name: str) -> str:
    return ".".join(part.strip().strip("\"'") for part in name.split("."))


def _inline_entries(lines: list[str], start: int) -> list[int]:
    """The line of each `{` entry of the array that starts after the '=' on line `start`."""
    found: list[int] = []
    depth = 0
    quote = ""
    for number in range(start, len(lines) + 1):
        text = lines[number - 1]
        pos = text.find("=") + 1 if number == start else 0
        while pos < len(text):
            if quote:
                if text.startswith(quote, pos):
                    pos += len(quote)
                    quote = ""
                    continue
                pos += 2 if text[pos] == "\\" and quote[0] == '"' else 1
                continue
            char = text[pos]
            if char == "#":
                break
            if char in "\"'":
                quote = char * 3 if text.startswith(char * 3, pos) else char
                pos += len(quote)
                continue
            if char in "[{":
                depth += 1
                if char == "{" and depth == 2:
                    found.append(number)
            elif char in "]}":
                depth -= 1
                if depth == 0:
                    return found
            pos += 1
        if len(quote) == 1:
            quote = ""  # a one-line string cannot go on (tomllib has said so already)
    return found


def entry_lines(fields: Fields) -> tuple[list[int], bool]:
    """The line of each alarm of a [[tag]], and whether the entries are inline tables."""
    file, header = fields.file, fields.header
    tables: list[int] = []
    for number in range(header + 1, len(file.lines) + 1) if header else ():
        match = _ARRAY_HEADER.match(file.lines[number - 1])
        if match is None:
            continue
        name = _unquote(match.group("name"))
        if name == "tag":
            break
        if name == "tag.alarms":
            tables.append(number)
    if tables:
        return tables, False
    start = fields.line("alarms")
    if not start or start == header:
        return [], True
    return _inline_entries(file.lines, start), True


def _delay(fields: Fields, key: str) -> float:
    """Seconds of a delay: 0 or a duration."""
    value = fields.table.get(key, 0)
    if (isinstance(value, int | float) and not isinstance(value, bool) and value == 0) or (
        isinstance(value, str) and _ZERO.match(value)
    ):
        return 0.0
    return fields.duration(key, 0.0)


def read_priority(fields: Fields, key: str, default: Priority) -> Priority:
    """A priority by name: low, medium, high, urgent."""
    text = fields.text(key)
    if text is None:
        return default
    if text not in PRIORITIES:
        fields.problem(key, f"unknown priority {text!r}" + did_you_mean(text, PRIORITIES))
        return default
    return PRIORITIES[text]


def read_messages(fields: Fields) -> tuple[str, str]:
    """The `message = { en = "...", zh_CN = "..." }` of an entry ('' where not given)."""
    if "message" not in fields.table:
        return "", ""
    value = fields.table["message"]
    if not isinstance(value, dict):
        fields.wrong("message", 'a table { en = "...", zh_CN = "..." }')
        return "", ""
    sub = LineFields(
        fields.report, fields.file, fields.line("message"), f"{fields.context} message", value
    )
    sub.unknown(("en", "zh_CN"))
    texts = []
    for key in ("en", "zh_CN"):
        text = sub.text(key, "") or ""
        if key in value and not text.strip():
            sub.problem(key, "must not be empty (leave it out for the generated text)")
        texts.append(text.strip())
    if sub.failed:
        fields.failed = True
    return texts[0], texts[1]


def _plain_text(table: Mapping[str, Any], key: str) -> str:
    value = table.get(key, "")
    return value if isinstance(value, str) else ""


@dataclass
class _Pending:
    """What is checked once every tag is known: the alarm and where its references are."""

    alarm: AlarmDef
    fields: Fields
    suppress_names: frozenset[str] = frozenset()


class AlarmReader:
    """Reads the alarms of tags and devices; `check` runs once every tag is read."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.alarms: dict[str, AlarmDef] = {}  # in reading order: devices, then tags
        self._pending: list[_Pending] = []

    # -- tags ------------------------------------------------------------------------------

    def read_tag(self, fields: Fields, tag: str | None, data_type: DataType | None) -> None:
        """The `alarms` of one [[tag]] (a `data_type` of None skips the type checks)."""
        if "alarms" not in fields.table:
            return
        value = fields.table["alarms"]
        if not isinstance(value, list):
            fields.wrong("alarms", 'an array of tables, e.g. [{ kind = "hi", limit = 95 }]')
            return
        lines, inline = entry_lines(fields)
        read: list[tuple[AlarmDef, Fields]] = []
        for index, entry in enumerate(value):
            line = lines[index] if index < len(lines) else 0
            kind = entry.get("kind") if isinstance(entry, dict) else None
            label = entry.get("name", kind) if isinstance(entry, dict) else None
            context = f"{fields.context} alarm " + (
                label if isinstance(label, str) and label else f"#{index + 1}"
            )
            if not isinstance(entry, dict):
                fields.problem("alarms", f"entry {index + 1} is not a table {{ kind = ... }}")
                continue
            cls = LineFields if inline or not line else Fields
            sub = cls(fields.report, fields.file, line or fields.header, context, entry)
            alarm = self._tag_alarm(sub, tag or "", data_type, fields.table)
            if sub.failed:
                fields.failed = True
            if alarm is not None:
                read.append((alarm, sub))
        self._check_order(read, fields)
        if tag is not None:  # the project is built only when no problem was found at all
            for alarm, sub in read:
                self.add(alarm, sub)

    def _tag_alarm(
        self, fields: Fields, tag: str, data_type: DataType | None, owner: Mapping[str, Any]
    ) -> AlarmDef | None:
        """One entry of a tag's `alarms` (`owner`: the tag's table, for its description)."""
        fields.unknown(TAG_ALARM_KEYS)
        kind = self._kind(fields, data_type)
        name = fields.text("name")
        if name is not None and not _ALARM_NAME.fullmatch(name):
            fields.problem(
                "name", f"bad alarm name {name!r} (letters, digits and '_', starting with a letter)"
            )
        limit = fields.number("limit", None)
        if kind in LIMIT_KINDS and "limit" not in fields.table:
            fields.problem("limit", f"missing (a {kind} alarm needs limit = ...)")
        elif kind is not None and kind not in LIMIT_KINDS and "limit" in fields.table:
            fields.problem("limit", f"a {kind} alarm has no limit")
        elif kind in (AlarmKind.DEVIATION, AlarmKind.RATE) and limit is not None and limit <= 0:
            fields.problem("limit", f"a {kind} alarm's limit must be above 0, got {limit:g}")
        setpoint = fields.text("setpoint")
        if kind is AlarmKind.DEVIATION and setpoint is None and "setpoint" not in fields.table:
            fields.problem("setpoint", 'missing (a deviation alarm needs setpoint = "TAG")')
        elif kind is not None and kind is not AlarmKind.DEVIATION and setpoint is not None:
            fields.problem("setpoint", "only a deviation alarm has a setpoint")
        state = fields.boolean("state", True)
        if kind is not None and kind is not AlarmKind.DIGITAL and "state" in fields.table:
            fields.problem("state", "only a digital alarm has a state")
        deadband = fields.number("deadband", 0.0) or 0.0
        if deadband < 0:
            fields.problem("deadband", f"must not be negative, got {deadband:g}")
        elif deadband and kind is not None and kind not in LIMIT_KINDS:
            fields.problem("deadband", f"a {kind} alarm has no limit, so no deadband")
        elif kind in (AlarmKind.DEVIATION, AlarmKind.RATE) and limit and deadband > limit:
            fields.problem(
                "deadband",
                f"{deadband:g} is above the limit {limit:g}: the alarm could never clear",
            )
        suppress = fields.text("suppress")
        names: frozenset[str] = frozenset()
        if suppress is not None:
            try:
                names = compile_expression(suppress).names
            except ExpressionError as exc:
                fields.problem("suppress", str(exc))
        area = fields.text("area", tag.split(".", maxsplit=1)[0]) or ""
        if not area.strip():
            fields.problem("area", "must not be empty")
        en, zh = read_messages(fields)
        if kind is None:
            return None
        subject = " ".join(p for p in (tag, _plain_text(owner, "description")) if p)
        made = default_messages(
            kind, subject, limit, _plain_text(owner, "unit"), setpoint=setpoint, state=state
        )
        high = kind in (AlarmKind.HIHI, AlarmKind.LOLO)
        alarm = AlarmDef(
            id=f"{tag}.{name or kind.value}",
            tag=tag,
            kind=kind,
            limit=limit,
            setpoint=setpoint,
            state=state,
            deadband=deadband,
            on_delay=_delay(fields, "on_delay"),
            off_delay=_delay(fields, "off_delay"),
            latch=fields.boolean("latch", False),
            priority=read_priority(fields, "priority", Priority.HIGH if high else Priority.MEDIUM),
            area=area,
            message_en=en or made[0],
            message_zh=zh or made[1],
            suppress=suppress,
            source=SourceRef(fields.file.rel, fields.header),
        )
        self._pending.append(_Pending(alarm, fields, names))
        return alarm

    @staticmethod
    def _kind(fields: Fields, data_type: DataType | None) -> AlarmKind | None:
        """The `kind` of an entry, checked against the tag's type."""
        text = fields.text("kind", required=f'kind = "hi", one of {", ".join(_KIND_NAMES)}')
        if text is None:
            return None
        if text in (AlarmKind.OFFLINE, AlarmKind.PACKET_LOSS):
            fields.problem(
                "kind",
                f"{text} alarms are set per device in devices.toml "
                '(alarms = { offline_after = "30s", loss_above = 5.0 })',
            )
            return None
        if text not in _KIND_NAMES:
            known = text in AlarmKind.__members__.values()
            fields.problem(
                "kind",
                (
                    f"{text} alarms cannot be set in tag files"
                    if known
                    else f"unknown alarm kind {text!r}"
                )
                + (did_you_mean(text, _KIND_NAMES, listing=False) if not known else "")
                + (f" (expected one of {', '.join(_KIND_NAMES)})" if known else ""),
            )
            return None
        kind = AlarmKind(text)
        if data_type is DataType.STRING and kind not in (AlarmKind.BAD_QUALITY,):
            fields.problem(
                "kind", f"a text (string) tag can only have a bad_quality alarm, not {kind}"
            )
        elif kind is AlarmKind.DIGITAL and data_type not in (None, DataType.BOOL):
            fields.problem("kind", f"a digital alarm needs a bool tag (this tag is {data_type})")
        elif kind in LIMIT_KINDS and data_type is DataType.BOOL:
            fields.problem("kind", f'a bool tag cannot have a {kind} alarm (use kind = "digital")')
        return kind

    def _check_order(self, read: list[tuple[AlarmDef, Fields]], fields: Fields) -> None:
        """HIHI above HI above LO above LOLO, for every pair of one tag's alarms."""
        rules = (
            (AlarmKind.HIHI, AlarmKind.HI, "above"),
            (AlarmKind.HI, AlarmKind.LO, "above"),
            (AlarmKind.LOLO, AlarmKind.LO, "below"),
        )
        for first, second, side in rules:
            for alarm, sub in read:
                if alarm.kind is not first or alarm.limit is None:
                    continue
                for other, _ in read:
                    if other.kind is not second or other.limit is None:
                        continue
                    wrong = (
                        alarm.limit <= other.limit
                        if side == "above"
                        else (alarm.limit >= other.limit)
                    )
                    if wrong:
                        sub.problem(
                            "limit",
                            f"{first} limit {alarm.limit:g} must be {side} the {second} "
                            f"limit {other.limit:g}",
                        )
                        fields.failed = True

    # -- devices ---------------------------------------------------------------------------

    def read_device(self, fields: Fields, device: str) -> None:
        """A device's link alarms: offline and packet loss, defaults unless `alarms = false`."""
        value = fields.table.get("alarms", True)
        if value is False:
            return
        if value is True:
            value = {}
        if not isinstance(value, dict):
            fields.wrong(
                "alarms", "true, false or a table { offline_after = ..., loss_above = ... }"
            )
            return
        header = fields.file.table_line(f"{device}.alarms")  # a [DEVICE.alarms] table
        cls = Fields if header else LineFields
        header = header or fields.line("alarms")
        sub = cls(fields.report, fields.file, header, f"{fields.context} alarms", value)
        sub.unknown(DEVICE_ALARM_KEYS)
        after = sub.duration("offline_after", OFFLINE_AFTER)
        loss = sub.number("loss_above", LOSS_ABOVE)
        if loss is not None and not 0 < loss <= 100:
            sub.problem("loss_above", f"must be a percentage above 0 and at most 100, got {loss:g}")
        offline_priority = read_priority(sub, "offline_priority", Priority.HIGH)
        loss_priority = read_priority(sub, "loss_priority", Priority.MEDIUM)
        if sub.failed:
            fields.failed = True
            return
        source = SourceRef(fields.file.rel, header)
        offline_tag, loss_tag = link_tag_name(device, "online"), link_tag_name(device, "loss_pct")
        en, zh = default_messages(AlarmKind.OFFLINE, device, None, "")
        self.add(
            AlarmDef(
                id=f"{offline_tag}.{AlarmKind.OFFLINE}",
                tag=offline_tag,
                kind=AlarmKind.OFFLINE,
                on_delay=after,
                priority=offline_priority,
                area=device,
                message_en=f"{en} (no answer for {after:g} s)",
                message_zh=f"{zh} ({after:g} s 无应答)",
                source=source,
            ),
            sub,
        )
        en, zh = default_messages(AlarmKind.PACKET_LOSS, device, loss, "%")
        self.add(
            AlarmDef(
                id=f"{loss_tag}.{AlarmKind.PACKET_LOSS}",
                tag=loss_tag,
                kind=AlarmKind.PACKET_LOSS,
                limit=loss,
                priority=loss_priority,
                area=device,
                message_en=en,
                message_zh=zh,
                source=source,
            ),
            sub,
        )

    # -- both ------------------------------------------------------------------------------

    def add(self, alarm: AlarmDef, fields: Fields, key: str | None = None) -> None:
        """Record an alarm whose id is new; a duplicate is reported at `key` of `fields`."""
        first = self.alarms.get(alarm.id)
        if first is not None:
            if key is None:
                key = "name" if "name" in fields.table else "kind"
            fields.problem(
                key,
                f"duplicate alarm id {alarm.id!r} (first defined at {first.source}; "
                'give one of them a name = "...")',
            )
            return
        self.alarms[alarm.id] = alarm

    def check(
        self,
        tags: Collection[str] | None,
        types: Mapping[str, DataType],
        system: Collection[str] | None,
    ) -> None:
        """Setpoints and suppress expressions name known tags (None: not known, not checked)."""
        for pending in self._pending:
            alarm, fields = pending.alarm, pending.fields
            if alarm.setpoint is not None:
                problem = reference_problem(alarm.setpoint, tags, system)
                if not problem and types.get(alarm.setpoint) in (DataType.BOOL, DataType.STRING):
                    problem = f"setpoint tag {alarm.setpoint!r} is not a number"
                if problem:
                    fields.problem("setpoint", problem)
            for ref in sorted(pending.suppress_names):
                problem = reference_problem(ref, tags, system)
                if problem:
                    fields.problem("suppress", problem)
            if fields.failed:
                self.alarms.pop(alarm.id, None)
        self._pending.clear()


def reference_problem(
    name: str, tags: Collection[str] | None, system: Collection[str] | None
) -> str:
    """What is wrong with a reference to a tag, or ''."""
    known = system if name.startswith("_") else tags
    if known is None or name in known:
        return ""
    if not TAG_NAME.fullmatch(name):
        return f"bad tag name {name!r}"
    what = "system tag" if name.startswith("_") else "tag"
    return f"unknown {what} {name!r}" + did_you_mean(name, known, listing=False)

"""Reading data-quality checks, plausibility rules and leak segments, and the alarms they raise.

A tag in a tags file (inline, or a `[tag.checks]` table after the `[[tag]]`):

    checks = { frozen = "15m", noise = 0.05, spike_rate = 2.0, range = true,
               running = "HS1.P101.RUN == 1" }

project.toml:

    [[check]]                     # a plausibility rule: true while the values make sense
    name = "HS1_flow_vs_pump"
    rule = "HS1.FT101 > 1 or HS1.P101.RUN == 0"

    [[segment]]                   # a network segment watched by mass balance
    name = "N1"
    inflow = ["HS1.FT101"]
    outflow = ["SS1.FT201", "SS2.FT201"]

Every broken rule is reported with file, line and field through the `Report`; the alarms go
through the project's `AlarmReader`, so alarm ids stay unique across all alarms. The records
live in `hmi.diagnostics_config`; `hmi.diagnostics` evaluates them at run time.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from hmi.alarm_config import (
    AlarmDef,
    AlarmReader,
    LineFields,
    read_messages,
    read_priority,
    reference_problem,
)
from hmi.alarms.model import AlarmKind, Priority
from hmi.diagnostics_config import (
    DiagnosticsSettings,
    LeakSegment,
    PlausibilityRule,
    SignalCheck,
    check_tag_name,
    leak_tag_name,
    signal_tag_name,
)
from hmi.expressions import ExpressionError, compile_expression
from hmi.projectfiles import Fields, Report, TomlFile, sub_table_line
from hmi.tags import DataType, SourceRef, TagDef

__all__ = [
    "CHECK_KEYS",
    "RULE_KEYS",
    "SEGMENT_KEYS",
    "DiagnosticsReader",
    "format_duration",
]

CHECK_KEYS = (
    "frozen",
    "noise",
    "spike_rate",
    "spike_within",
    "spike_hold",
    "range",
    "running",
    "area",
    "priority",
)
RULE_KEYS = ("name", "rule", "for", "area", "priority", "description", "message")
SEGMENT_KEYS = (
    "name",
    "description",
    "inflow",
    "outflow",
    "uncertainty",
    "window",
    "min_duration",
    "pressure",
    "running",
    "area",
    "priority",
    "message",
)
MAX_UNCERTAINTY = 20.0  # percent of reading; a meter worse than this cannot find a leak
_NUMBER_TYPES = (DataType.FLOAT, DataType.INT)
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_SIGNAL = SignalCheck("")
_RULE = PlausibilityRule("", "")
_SEGMENT = LeakSegment("", (), ())


def format_duration(seconds: float) -> str:
    """A duration for people: 90 -> '90 s', 900 -> '15 min', 7200 -> '2 h', 172800 -> '2 d'."""
    for size, unit in ((86400.0, "d"), (3600.0, "h"), (60.0, "min")):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


def _first_part(name: str) -> str:
    return name.split(".", maxsplit=1)[0]


def _first_named(text: str, names: Collection[str]) -> str:
    """The tag an expression names first (in reading order), '' when it names none."""
    for match in _DOTTED.finditer(text):
        if match.group() in names:
            return match.group()
    return min(names, default="")


def _subject(tag: TagDef) -> str:
    return " ".join(part for part in (tag.name, tag.description) if part)


def _with_unit(amount: str, unit: str) -> str:
    return f"{amount} {unit}" if unit else amount


@dataclass
class _References:
    """Tag names of an expression, checked once every tag is known."""

    fields: Fields
    key: str
    names: frozenset[str]


class DiagnosticsReader:
    """Reads a project's checks, rules and segments; their alarms go to `alarms`."""

    def __init__(self, report: Report, alarms: AlarmReader) -> None:
        self.report = report
        self.alarms = alarms
        self.signals: dict[str, SignalCheck] = {}
        self.rules: dict[str, PlausibilityRule] = {}
        self.segments: dict[str, LeakSegment] = {}
        self._rule_sources: dict[str, SourceRef] = {}
        self._segment_sources: dict[str, SourceRef] = {}
        self._pending: list[_References] = []

    def settings(self) -> DiagnosticsSettings:
        """Everything read so far, as the project's record."""
        return DiagnosticsSettings(dict(self.signals), dict(self.rules), dict(self.segments))

    # -- a tag's checks ----------------------------------------------------------------------

    def read_tag(self, fields: Fields, name: str | None, tag: TagDef) -> None:
        """The `checks` of one [[tag]] (`name` None: a broken name, nothing is made)."""
        if "checks" not in fields.table:
            return
        value = fields.table["checks"]
        if not isinstance(value, dict):
            fields.wrong("checks", 'a table, e.g. { frozen = "15m", range = true }')
            return
        header = sub_table_line(fields, "checks")
        cls = Fields if header else LineFields
        context = f"{fields.context} checks"
        sub = cls(self.report, fields.file, header or fields.line("checks"), context, value)
        self._signal(sub, fields, name, tag)
        if sub.failed:
            fields.failed = True

    def _signal(self, sub: Fields, owner: Fields, name: str | None, tag: TagDef) -> None:
        """Read one tag's checks table and make its alarms (`owner`: the tag's fields)."""
        sub.unknown(CHECK_KEYS)
        if tag.type not in _NUMBER_TYPES:
            owner.problem(
                "checks", f"only a number (float or int) tag has checks; this tag is {tag.type}"
            )
            return
        if not any(key in sub.table for key in ("frozen", "spike_rate", "range")):
            sub.problem("", 'no check: give frozen = "15m", spike_rate = ... or range = true')
        frozen = sub.duration("frozen", 0.0) or None
        noise = sub.number("noise", tag.deadband)
        if noise is not None and noise < 0:
            sub.problem("noise", f"must not be negative, got {noise:g}")
        spike_rate = sub.number("spike_rate", None)
        if spike_rate is not None and spike_rate <= 0:
            sub.problem("spike_rate", f"must be above 0, got {spike_rate:g}")
        spike_within = sub.duration("spike_within", _SIGNAL.spike_within)
        spike_hold = sub.duration("spike_hold", _SIGNAL.spike_hold)
        for key, needs in (
            ("noise", "frozen"),
            ("running", "frozen"),
            ("spike_within", "spike_rate"),
            ("spike_hold", "spike_rate"),
        ):
            if key in sub.table and needs not in sub.table:
                sub.problem(key, f"only used with {needs}")
        in_range = sub.boolean("range", False)
        if in_range and "range" not in owner.table:
            sub.problem("range", "range = true needs the tag's range = [low, high], e.g. [0, 150]")
        running = self._expression(sub, "running")
        area = self._area(sub, _first_part(name or ""))
        priority = read_priority(sub, "priority", Priority.LOW)
        if name is None or sub.failed:
            return
        self.signals[name] = SignalCheck(
            tag=name,
            frozen_after=frozen,
            noise=noise if noise is not None else tag.deadband,
            spike_rate=spike_rate,
            spike_within=spike_within,
            spike_hold=spike_hold,
            range=in_range and tag.low is not None and tag.high is not None,
            running=running,
            area=area,
            source=SourceRef(sub.file.rel, sub.header),
        )
        subject, unit = _subject(tag), tag.unit
        made: list[tuple[AlarmKind, str, str, str]] = []
        if frozen is not None:
            shown = format_duration(frozen)
            made.append(
                (
                    AlarmKind.FROZEN,
                    "frozen",
                    f"{subject} frozen (no change for {shown})",
                    f"{subject} 数据冻结（{shown} 无变化）",
                )
            )
        if spike_rate is not None:
            rate = f"{spike_rate:g} {unit}/s" if unit else f"{spike_rate:g}/s"
            made.append(
                (
                    AlarmKind.SPIKE,
                    "spike_rate",
                    f"{subject} spikes (jumps faster than {rate})",
                    f"{subject} 数据跳变（超过 {rate}）",
                )
            )
        if in_range and tag.low is not None and tag.high is not None:
            span = _with_unit(f"{tag.low:g}..{tag.high:g}", unit)
            made.append(
                (
                    AlarmKind.RANGE,
                    "range",
                    f"{subject} outside its physical range {span}",
                    f"{subject} 超出量程 {span}",
                )
            )
        for kind, key, en, zh in made:
            alarm = AlarmDef(
                id=f"{name}.{kind.value}",
                tag=name,
                kind=kind,
                priority=priority,
                area=area,
                message_en=en,
                message_zh=zh,
                input=signal_tag_name(name, kind.value),
                source=SourceRef(sub.file.rel, sub.line(key)),
            )
            self.alarms.add(alarm, sub, key)

    # -- project.toml: [[check]] and [[segment]] ---------------------------------------------

    def read_project(
        self, file: TomlFile, tags: Mapping[str, TagDef], names: Collection[str] | None
    ) -> None:
        """project.toml's [[check]] and [[segment]] tables, read once every tag is read."""
        # `tags`: the valid tags (types, units); `names`: every name seen, None when unknown
        data = file.data or {}
        top = Fields(self.report, file, 0, "", data)
        for key, read in (("check", self._rule), ("segment", self._segment)):
            entries: Any = data.get(key, [])
            if isinstance(entries, dict):
                top.problem(key, f"write each as [[{key}]] (an array of tables), not [{key}]")
                continue
            if not isinstance(entries, list):
                top.wrong(key, f"an array of tables [[{key}]]")
                continue
            for index, entry in enumerate(entries):
                header = file.array_line(key, index)
                raw = entry.get("name") if isinstance(entry, dict) else None
                label = raw if isinstance(raw, str) and _NAME.fullmatch(raw) else f"#{index + 1}"
                if not isinstance(entry, dict):
                    self.report.add(file.rel, header, f"{key} {label}", "", f"expected [[{key}]]")
                    continue
                read(Fields(self.report, file, header, f"{key} {label}", entry), tags, names)

    def _rule(
        self, fields: Fields, tags: Mapping[str, TagDef], names: Collection[str] | None
    ) -> None:
        """One [[check]]: a plausibility rule and its alarm."""
        fields.unknown(RULE_KEYS)
        name = self._name(fields, self._rule_sources, "check")
        text = fields.text(
            "rule", required='rule = "...", an expression that is true while plausible'
        )
        first = ""
        if text is not None:
            try:
                referenced = compile_expression(text).names
            except ExpressionError as exc:
                fields.problem("rule", str(exc))
            else:
                if not referenced:
                    fields.problem("rule", "names no tag (a rule checks tag values)")
                self._pending.append(_References(fields, "rule", referenced))
                first = _first_named(text, referenced)
        on_delay = fields.duration("for", _RULE.on_delay)
        area = self._area(fields, _first_part(first))
        priority = read_priority(fields, "priority", Priority.LOW)
        description = (fields.text("description", "") or "").strip()
        en, zh = read_messages(fields)
        if name is None or text is None or fields.failed:
            return
        source = SourceRef(fields.file.rel, fields.header)
        self.rules[name] = PlausibilityRule(name, text, on_delay, area, description, source)
        shown = description or text
        alarm = AlarmDef(
            id=f"check.{name}",
            tag=name,
            kind=AlarmKind.PLAUSIBILITY,
            on_delay=on_delay,
            priority=priority,
            area=area,
            message_en=en or f"Implausible: {shown}",
            message_zh=zh or f"数据不合理：{shown}",
            input=check_tag_name(name),
            source=source,
        )
        self.alarms.add(alarm, fields, "name")

    def _segment(
        self, fields: Fields, tags: Mapping[str, TagDef], names: Collection[str] | None
    ) -> None:
        """One [[segment]]: meters around a part of the network and its leak alarm."""
        fields.unknown(SEGMENT_KEYS)
        name = self._name(fields, self._segment_sources, "segment")
        inflow = self._meters(fields, "inflow", tags, names, required=True)
        outflow = self._meters(fields, "outflow", tags, names, required=True, inflow=inflow)
        pressure = self._meters(fields, "pressure", tags, names, required=False)
        uncertainty = fields.number("uncertainty", _SEGMENT.uncertainty_pct)
        if uncertainty is not None and not 0 < uncertainty <= MAX_UNCERTAINTY:
            fields.problem(
                "uncertainty",
                f"must be a percentage above 0 and at most {MAX_UNCERTAINTY:g}, "
                f"got {uncertainty:g}",
            )
        window = fields.duration("window", _SEGMENT.window)
        min_duration = fields.duration("min_duration", _SEGMENT.min_duration)
        running = self._expression(fields, "running")
        area = self._area(fields, _first_part(inflow[0]) if inflow else "")
        priority = read_priority(fields, "priority", Priority.HIGH)
        description = (fields.text("description", "") or "").strip()
        en, zh = read_messages(fields)
        if name is None or fields.failed:
            return
        first = tags.get(inflow[0])
        unit = first.unit if first is not None else ""
        source = SourceRef(fields.file.rel, fields.header)
        self.segments[name] = LeakSegment(
            name=name,
            inflow=inflow,
            outflow=outflow,
            uncertainty_pct=uncertainty or _SEGMENT.uncertainty_pct,
            window=window,
            min_duration=min_duration,
            pressure=pressure,
            running=running,
            area=area,
            description=description,
            unit=unit,
            source=source,
        )
        label = f"{name} ({description})" if description else name
        amount = _with_unit("{value:.2f}", unit)  # filled in by the alarm view
        alarm = AlarmDef(
            id=f"segment.{name}.leak",
            tag=name,
            kind=AlarmKind.LEAK,
            priority=priority,
            area=area,
            message_en=en or f"Leak suspected on segment {label}: about {amount} lost",
            message_zh=zh or f"管段 {label} 疑似泄漏：约 {amount}",
            input=leak_tag_name(name, "rate"),
            source=source,
        )
        self.alarms.add(alarm, fields, "name")

    def _meters(
        self,
        fields: Fields,
        key: str,
        tags: Mapping[str, TagDef],
        names: Collection[str] | None,
        *,
        required: bool,
        inflow: tuple[str, ...] = (),
    ) -> tuple[str, ...]:
        """An array of number tags, e.g. inflow = ["HS1.FT101"], each once and none in `inflow`."""
        if key not in fields.table:
            if required:
                fields.problem(key, f'missing ({key} = ["TAG", ...], the flow meters)')
            return ()
        value = fields.table[key]
        if not isinstance(value, list):
            fields.wrong(key, 'an array of tag names, e.g. ["HS1.FT101"]')
            return ()
        if required and not value:
            fields.problem(key, "must not be empty (at least one flow meter)")
        found: list[str] = []
        for tag in value:
            if not isinstance(tag, str):
                fields.problem(key, f"expected tag names (text), got {tag!r}")
                continue
            if tag in found:
                fields.problem(key, f"{tag!r} is listed twice")
                continue
            found.append(tag)
            if tag in inflow:
                fields.problem(
                    key, f"{tag!r} is also an inflow (a meter is on one side of a segment)"
                )
                continue
            problem = reference_problem(tag, names, ())
            defined = tags.get(tag)
            if not problem and defined is not None and defined.type not in _NUMBER_TYPES:
                problem = f"tag {tag!r} is not a number (it is {defined.type})"
            if problem:
                fields.problem(key, problem)
        return tuple(found)

    # -- shared --------------------------------------------------------------------------

    @staticmethod
    def _name(fields: Fields, seen: dict[str, SourceRef], what: str) -> str | None:
        """The entry's name if it is an identifier not used before by another [[what]]."""
        name = fields.text("name", required=f'every [[{what}]] needs name = "..."')
        if name is None:
            return None
        if not _NAME.fullmatch(name):
            fields.problem(
                "name",
                f"bad {what} name {name!r} (letters, digits and '_', starting with a letter)",
            )
            return None
        first = seen.get(name)
        if first is not None:
            fields.problem("name", f"duplicate {what} name {name!r} (first defined at {first})")
            return None
        seen[name] = SourceRef(fields.file.rel, fields.header)
        return name

    def _expression(self, fields: Fields, key: str) -> str | None:
        """An expression field: compiled now, its tag names checked by `check`."""
        text = fields.text(key)
        if text is None:
            return None
        try:
            referenced = compile_expression(text).names
        except ExpressionError as exc:
            fields.problem(key, str(exc))
            return None
        self._pending.append(_References(fields, key, referenced))
        return text

    @staticmethod
    def _area(fields: Fields, default: str) -> str:
        """`area`, by default the first part of the first tag (no tag: reported already)."""
        area = (fields.text("area", default) or "").strip()
        if not area and "area" in fields.table:
            fields.problem("area", "must not be empty")
        return area

    def check(self, names: Collection[str] | None, system: Collection[str] | None) -> None:
        """Expressions name known tags (None: not known, not checked); run once all are read."""
        for pending in self._pending:
            for ref in sorted(pending.names):
                problem = reference_problem(ref, names, system)
                if problem:
                    pending.fields.problem(pending.key, problem)
        self._pending.clear()

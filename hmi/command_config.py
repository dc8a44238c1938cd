"""How a writable tag may be commanded: limits, interlocks, confirmation and read-back.

A writable tag in a tags file may carry `command = { min = 0, max = 100 }` on one line, or a
`[tag.command]` table after its [[tag]]:

    [tag.command]
    min = 0
    max = 100
    max_step = 25              # the largest change in one command
    critical = true            # confirm with the password
    two_person = false         # a second person approves
    readback = "SS1.ZT301"     # verified on this tag (default: the tag itself)
    band = 1.0                 # within this of the target
    timeout = "60s"
    interlocks = [
      { block = "GS1.PT101 > 4.2", message = { en = "Inlet pressure high", zh_CN = "进口压力高" } },
    ]

Without a `command` table a writable tag is commanded with its physical range as limits, read
back from itself within a band of a thousandth of its span (or its deadband), in 10 s, not
critical. Every broken rule is reported with file, line and field. Plain data and file rules;
the command service (`hmi.commands`) enforces them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from hmi.expressions import ExpressionError, compile_expression
from hmi.projectfiles import Fields, Report, did_you_mean, sub_table_line
from hmi.tags import TAG_NAME, DataType, SourceRef, TagDef

__all__ = ["COMMAND_KEYS", "CommandDef", "CommandReader", "Interlock", "default_command"]

COMMAND_KEYS = (
    "min",
    "max",
    "max_step",
    "critical",
    "two_person",
    "readback",
    "band",
    "timeout",
    "area",
    "interlocks",
)
INTERLOCK_KEYS = ("block", "message")
READBACK_TIMEOUT = 10.0  # seconds for the read-back to reach the target band


@dataclass(frozen=True, slots=True)
class Interlock:
    """A condition over tags that blocks the command while it is true."""

    block: str  # expression; true = blocked
    message_en: str
    message_zh: str


@dataclass(frozen=True, slots=True)
class CommandDef:
    """How one writable tag may be commanded."""

    tag: str
    area: str
    min: float | None = None  # None: no lower limit (or a bool tag)
    max: float | None = None
    max_step: float | None = None  # the largest change from the current value in one command
    critical: bool = False  # confirm with the password
    two_person: bool = False  # a second person with approve_commands confirms
    readback: str = ""  # the tag that must reach the target (default: the tag itself)
    band: float = 0.0  # |read-back - target| within which the command is verified
    timeout: float = READBACK_TIMEOUT
    interlocks: tuple[Interlock, ...] = ()
    source: SourceRef = field(default_factory=SourceRef, compare=False)


def default_command(tag: TagDef) -> CommandDef:
    """The command rules of a writable tag that declares none."""
    area = tag.name.split(".", maxsplit=1)[0]
    if tag.type is DataType.BOOL or tag.type is DataType.STRING:
        return CommandDef(tag.name, area, readback=tag.name, source=tag.source)
    span = (tag.high - tag.low) if tag.low is not None and tag.high is not None else 0.0
    band = max(tag.deadband, span / 1000.0)
    return CommandDef(
        tag.name, area, tag.low, tag.high, readback=tag.name, band=band, source=tag.source
    )


class CommandReader:
    """Reads the `command` tables of writable tags; `check` runs once every tag is read."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.commands: dict[str, CommandDef] = {}
        self._pending: list[tuple[CommandDef, Fields, DataType]] = []

    def read_tag(self, fields: Fields, name: str | None, tag: TagDef) -> None:
        """The `command` of one [[tag]] (or its defaults when it is writable without one)."""
        value = fields.table.get("command")
        if value is None:
            if tag.writable and name is not None:
                self.commands[name] = default_command(tag)
            return
        if not isinstance(value, dict):
            fields.wrong("command", "a table, e.g. { min = 0, max = 100, critical = true }")
            return
        if not tag.writable:
            fields.problem("command", "only a writable tag (writable = true) has a command table")
            return
        header = sub_table_line(fields, "command") or fields.line("command")
        sub = Fields(self.report, fields.file, header, f"{fields.context} command", value)
        command = self._command(sub, tag)
        if sub.failed:
            fields.failed = True
        if name is not None and command is not None:
            if not sub.failed:
                self.commands[name] = command
            self._pending.append((command, sub, tag.type))  # references are checked in any case

    def _command(self, sub: Fields, tag: TagDef) -> CommandDef | None:
        sub.unknown(COMMAND_KEYS)
        base = default_command(tag)
        number = tag.type in (DataType.FLOAT, DataType.INT)
        if not number:
            for key in ("min", "max", "max_step", "band"):
                if key in sub.table:
                    sub.problem(key, f"a {tag.type} tag has no {key}")
        low = sub.number("min", base.min)
        high = sub.number("max", base.max)
        if low is not None and high is not None and low >= high:
            sub.problem("max", f"must be above min ({low:g}), got {high:g}")
        for key, limit in (("min", low), ("max", high)):
            if key not in sub.table or limit is None:
                continue
            if (tag.low is not None and limit < tag.low) or (
                tag.high is not None and limit > tag.high
            ):
                sub.problem(key, f"{limit:g} is outside the tag's range {tag.low:g}..{tag.high:g}")
        max_step = sub.number("max_step", None)
        if max_step is not None and max_step <= 0:
            sub.problem("max_step", f"must be above 0, got {max_step:g}")
        band = sub.number("band", base.band)
        if band is not None and band < 0:
            sub.problem("band", f"must not be negative, got {band:g}")
        timeout = sub.duration("timeout", READBACK_TIMEOUT)
        readback = sub.text("readback", tag.name) or tag.name
        if not TAG_NAME.fullmatch(readback):
            sub.problem("readback", f"bad tag name {readback!r}")
        area = sub.text("area", base.area) or base.area
        interlocks = self._interlocks(sub)
        return CommandDef(
            tag=tag.name,
            area=area,
            min=low,
            max=high,
            max_step=max_step,
            critical=sub.boolean("critical", False),
            two_person=sub.boolean("two_person", False),
            readback=readback,
            band=band or 0.0,
            timeout=timeout,
            interlocks=interlocks,
            source=SourceRef(sub.file.rel, sub.header),
        )

    def _interlocks(self, sub: Fields) -> tuple[Interlock, ...]:
        value = sub.table.get("interlocks", [])
        if not isinstance(value, list):
            sub.wrong("interlocks", 'an array of tables [{ block = "...", message = "..." }]')
            return ()
        out: list[Interlock] = []
        for index, entry in enumerate(value):
            where = f"interlocks[{index + 1}]"
            if not isinstance(entry, dict):
                sub.problem("interlocks", f"{where} is not a table {{ block = ... }}")
                continue
            unknown = [k for k in entry if k not in INTERLOCK_KEYS]
            for key in unknown:
                sub.problem(
                    "interlocks",
                    f"{where}: unknown key {key!r}" + did_you_mean(key, INTERLOCK_KEYS),
                )
            block = entry.get("block")
            if not isinstance(block, str) or not block.strip():
                sub.problem("interlocks", f'{where}: block = "expression" is missing')
                continue
            try:
                compile_expression(block)
            except ExpressionError as exc:
                sub.problem("interlocks", f"{where}: {exc}")
                continue
            en, zh = _message(entry.get("message"), block)
            if en is None:
                sub.problem(
                    "interlocks",
                    f'{where}: message must be text or {{ en = "...", zh_CN = "..." }}',
                )
                continue
            out.append(Interlock(block, en, zh or en))
        return tuple(out)

    def check(self, tags: Collection[str] | None, types: dict[str, DataType]) -> None:
        """Read-back tags and interlock inputs name known tags (None: unknown, not checked)."""
        if tags is None:
            self._pending.clear()
            return
        for command, sub, own_type in self._pending:
            if command.readback not in tags:
                sub.problem(
                    "readback",
                    f"unknown tag {command.readback!r}" + did_you_mean(command.readback, tags),
                )
            elif (types.get(command.readback) is DataType.BOOL) != (own_type is DataType.BOOL):
                sub.problem("readback", f"{command.readback} and {command.tag} differ in type")
            for lock in command.interlocks:
                for ref in sorted(compile_expression(lock.block).names):
                    if ref not in tags and not ref.startswith("_"):
                        sub.problem("interlocks", f"unknown tag {ref!r} in {lock.block!r}")
            if sub.failed:
                self.commands.pop(command.tag, None)
        self._pending.clear()


def _message(value: Any, block: str) -> tuple[str | None, str]:
    """The English and Chinese texts of an interlock (generated from the expression if absent)."""
    if value is None:
        return f"Interlock: {block}", f"联锁：{block}"
    if isinstance(value, str) and value.strip():
        return value.strip(), ""
    if isinstance(value, dict):
        en, zh = value.get("en"), value.get("zh_CN", "")
        if isinstance(en, str) and en.strip() and isinstance(zh, str):
            return en.strip(), zh.strip()
    return None, ""

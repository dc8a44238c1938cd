"""Reading a project's plant screens (`screens/*.toml`) into `ScreenDef`s, checking every field.

One file per screen, its name the file's stem; the format is described in `hmi.screen_config`
and docs/screens.md. Every broken rule is reported with file, line and field through the
`Report` (unknown keys with a did-you-mean hint, wrong types, coordinates that are not pairs of
numbers, unknown symbols, tags that do not exist, commands on tags that cannot be written,
duplicate symbol ids, links to screens that do not exist). Tags are checked against the tags
already read, so `hmi.projectload` calls this after every tag file. No Qt; the symbol names
are the SVG files in `resources/symbols`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hmi.projectfiles import Fields, Report, TomlFile, did_you_mean, finite_number
from hmi.resources import resource_path
from hmi.screen_config import (
    LINE_KINDS,
    Caption,
    Link,
    Pipe,
    Readout,
    ScreenDef,
    SymbolDef,
    Text,
)
from hmi.tags import TAG_NAME, DataType, SourceRef, TagDef

__all__ = [
    "FILE_KEYS",
    "LINK_KEYS",
    "PIPE_KEYS",
    "ROTATIONS",
    "SCREEN_KEYS",
    "SYMBOL_KEYS",
    "TEXT_KEYS",
    "VALUE_KEYS",
    "ScreenReader",
    "symbol_names",
]

FILE_KEYS = ("screen", "symbol", "value", "pipe", "text", "link")
SCREEN_KEYS = ("title", "size", "order", "area")
SYMBOL_KEYS = (
    "id",
    "symbol",
    "at",
    "size",
    "rotate",
    "label",
    "state",
    "fault",
    "values",
    "commands",
    "trend",
    "area",
)
VALUE_KEYS = ("tag", "at", "label")
PIPE_KEYS = ("points", "flow", "min_flow", "line")
TEXT_KEYS = ("text", "at")
LINK_KEYS = ("screen", "at", "label")
TEXT_LANGUAGES = ("en", "zh_CN")
ROTATIONS = (0, 90, 180, 270)
DEFAULT_SIZE = (1600.0, 900.0)
_SCREEN_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")
_NUMBER_TYPES = (DataType.FLOAT, DataType.INT)


def symbol_names() -> frozenset[str]:
    """The names of the plant symbols (the SVG files in resources/symbols)."""
    folder = resource_path("symbols")
    return frozenset(p.stem for p in folder.glob("*.svg")) if folder.is_dir() else frozenset()


@dataclass
class _LinkCheck:
    """A link whose target is checked once every screen is read."""

    fields: Fields
    screen: str


class ScreenReader:
    """Reads the screens of one project; `screens` holds those read, by name."""

    def __init__(
        self,
        report: Report,
        tags: Mapping[str, TagDef],
        names: Collection[str] | None,
        symbols: Collection[str] | None = None,
    ) -> None:
        # `tags`: the valid tags (types, writable); `names`: every tag name that exists (also
        # system tags), None when a tag file could not be read and names cannot be checked
        self.report = report
        self.tags = tags
        self.names = names
        self.symbols = frozenset(symbols) if symbols is not None else symbol_names()
        self.screens: dict[str, ScreenDef] = {}
        self._links: list[_LinkCheck] = []
        self._files: set[str] = set()
        self._ids: dict[str, int] = {}  # symbol id -> line, in the file being read

    def read_folder(self, root: Path) -> dict[str, ScreenDef]:
        """Every `screens/*.toml` of the project folder (none without a `screens` folder)."""
        folder = root / "screens"
        if not folder.is_dir():
            return {}
        paths = sorted(p for p in folder.glob("*.toml") if p.is_file())
        self._files = {p.stem for p in paths}
        for path in paths:
            self.read_file(root, f"screens/{path.name}")
        self.check_links()
        return self.screens

    def read_file(self, root: Path, rel: str) -> None:
        """One screen file."""
        name = Path(rel).stem
        self._files.add(name)
        file = TomlFile.read(root, rel, self.report)
        if file.data is None:
            return
        top = Fields(self.report, file, 0, "", file.data)
        if not _SCREEN_NAME.fullmatch(name):
            top.problem("", f"bad screen name {name!r} (letters, digits, '_' and '-')")
        top.unknown(FILE_KEYS)
        header = self._header(file, top, name)
        self._ids = {}
        symbols = self._entries(file, top, "symbol", self._symbol, header.area)
        screen = ScreenDef(
            name=name,
            title=header.title,
            size=header.size,
            order=header.order,
            area=header.area,
            symbols=tuple(s for s, _ in symbols),
            values=tuple(v for v, _ in self._entries(file, top, "value", self._readout, "")),
            pipes=tuple(p for p, _ in self._entries(file, top, "pipe", self._pipe, "")),
            texts=tuple(c for c, _ in self._entries(file, top, "text", self._caption, "")),
            links=tuple(k for k, _ in self._entries(file, top, "link", self._link, "")),
            source=SourceRef(rel, 0),
        )
        self.screens[name] = screen

    def check_links(self) -> None:
        """Every link names a screen of the project (once all files are read)."""
        for check in self._links:
            if check.screen not in self._files:
                hint = did_you_mean(check.screen, sorted(self._files))
                check.fields.problem(
                    "screen", f"no screen {check.screen!r}" + (hint or " (the project has none)")
                )
        self._links.clear()

    # -- [screen] ----------------------------------------------------------------------------

    def _header(self, file: TomlFile, top: Fields, name: str) -> ScreenDef:
        table = (file.data or {}).get("screen", {})
        if not isinstance(table, dict):
            top.wrong("screen", "a table [screen]")
            return ScreenDef(name, Text(name), DEFAULT_SIZE)
        fields = Fields(self.report, file, file.table_line("screen"), "[screen]", table)
        fields.unknown(SCREEN_KEYS)
        title = _text(fields, "title") or Text(name)
        size = _pair(fields, "size", positive=True) or DEFAULT_SIZE
        order = fields.integer("order", 100, -(10**6), 10**6)
        area = fields.text("area", "") or ""
        return ScreenDef(name, title, size, order if order is not None else 100, area)

    def _entries(
        self, file: TomlFile, top: Fields, key: str, read: Any, area: str
    ) -> list[tuple[Any, Fields]]:
        """Each [[key]] table read by `read(fields, area)`; the valid ones with their fields."""
        entries = (file.data or {}).get(key, [])
        if isinstance(entries, dict):
            top.problem(key, f"write each as [[{key}]] (an array of tables), not [{key}]")
            return []
        if not isinstance(entries, list):
            top.wrong(key, f"an array of tables [[{key}]]")
            return []
        out: list[tuple[Any, Fields]] = []
        for index, entry in enumerate(entries):
            header = file.array_line(key, index)
            label = _label(key, index, entry)
            if not isinstance(entry, dict):
                self.report.add(file.rel, header, label, "", f"expected a table [[{key}]]")
                continue
            fields = Fields(self.report, file, header, label, entry)
            item = read(fields, area)
            if item is not None:
                out.append((item, fields))
        return out

    # -- items -------------------------------------------------------------------------------

    def _symbol(self, fields: Fields, area: str) -> SymbolDef | None:
        fields.unknown(SYMBOL_KEYS)
        ident = fields.text("id", required='id = "SS1.P301", unique on the screen')
        if ident is not None and not ident.strip():
            fields.problem("id", "must not be empty")
            ident = None
        if ident is not None:
            first = self._ids.setdefault(ident, fields.header)
            if first != fields.header:
                fields.problem("id", f"duplicate symbol id {ident!r} (first at line {first})")
        symbol = fields.text("symbol", required='symbol = "pump", a file of resources/symbols')
        if symbol is not None and symbol not in self.symbols:
            fields.problem(
                "symbol", f"unknown symbol {symbol!r}" + did_you_mean(symbol, sorted(self.symbols))
            )
        at = _pair(fields, "at", required=True)
        size = _pair(fields, "size", positive=True)
        rotate = fields.integer("rotate", 0, -(2**31), 2**31)
        if rotate is not None and rotate not in ROTATIONS:
            fields.problem("rotate", f"must be 0, 90, 180 or 270, got {rotate}")
            rotate = 0
        label = _text(fields, "label") or Text("")
        state = self._tag(fields, "state")
        if state and (tag := self.tags.get(state)) is not None and tag.type is DataType.STRING:
            fields.problem("state", f"{state} is text; a state is a bool or a 0-100 % position")
        fault = self._tag(fields, "fault")
        if fault and (tag := self.tags.get(fault)) is not None and tag.type is not DataType.BOOL:
            fields.problem("fault", f"{fault} is {tag.type}; a fault is a bool tag")
        values = self._tags(fields, "values")
        commands = self._tags(fields, "commands")
        for command in commands:
            tag = self.tags.get(command)
            if tag is not None and not tag.writable:
                fields.problem("commands", f"{command} is not writable (writable = true)")
        trend = self._tags(fields, "trend")
        own_area = fields.text("area", "") or ""
        if ident is None or symbol is None or at is None:
            return None
        return SymbolDef(
            id=ident,
            symbol=symbol,
            at=at,
            size=size,
            rotate=rotate or 0,
            label=label,
            state=state,
            fault=fault,
            values=values,
            commands=commands,
            trend=trend,
            area=own_area or area,
            source=SourceRef(fields.file.rel, fields.header),
        )

    def _readout(self, fields: Fields, _area: str) -> Readout | None:
        fields.unknown(VALUE_KEYS)
        if "tag" not in fields.table:
            fields.problem("tag", 'missing (tag = "HS1.TT101", the tag shown)')
        tag = self._tag(fields, "tag")
        at = _pair(fields, "at", required=True)
        label = _text(fields, "label") or Text("")
        if not tag or at is None:
            return None
        return Readout(tag, at, label, SourceRef(fields.file.rel, fields.header))

    def _pipe(self, fields: Fields, _area: str) -> Pipe | None:
        fields.unknown(PIPE_KEYS)
        points = _points(fields)
        flow = self._tag(fields, "flow")
        if flow and (tag := self.tags.get(flow)) is not None and tag.type not in _NUMBER_TYPES:
            fields.problem("flow", f"{flow} is {tag.type}; a flow is a number tag")
        min_flow = fields.number("min_flow", 0.0)
        if min_flow is not None and min_flow < 0:
            fields.problem("min_flow", f"must not be negative, got {min_flow:g}")
            min_flow = 0.0
        if "min_flow" in fields.table and not flow:
            fields.problem("min_flow", "only used with flow")
        line = fields.text("line", "supply") or "supply"
        if line not in LINE_KINDS:
            fields.problem("line", f"unknown line {line!r}" + did_you_mean(line, LINE_KINDS))
            line = "supply"
        if points is None:
            return None
        source = SourceRef(fields.file.rel, fields.header)
        return Pipe(points, flow, min_flow or 0.0, line, source)

    def _caption(self, fields: Fields, _area: str) -> Caption | None:
        fields.unknown(TEXT_KEYS)
        if "text" not in fields.table:
            fields.problem("text", 'missing (text = { en = "...", zh_CN = "..." })')
        text = _text(fields, "text")
        at = _pair(fields, "at", required=True)
        if text is None or at is None:
            return None
        return Caption(text, at, SourceRef(fields.file.rel, fields.header))

    def _link(self, fields: Fields, _area: str) -> Link | None:
        fields.unknown(LINK_KEYS)
        screen = fields.text("screen", required='screen = "ss1", the file name without .toml')
        if screen is not None:
            self._links.append(_LinkCheck(fields, screen))
        at = _pair(fields, "at", required=True)
        label = _text(fields, "label") or Text(screen or "")
        if screen is None or at is None:
            return None
        return Link(screen, at, label, SourceRef(fields.file.rel, fields.header))

    # -- tag references ----------------------------------------------------------------------

    def _tag(self, fields: Fields, key: str) -> str:
        """A tag name that exists ('' when absent or wrong)."""
        name = fields.text(key)
        if name is None:
            return ""
        return name if self._known(fields, key, name) else ""

    def _tags(self, fields: Fields, key: str) -> tuple[str, ...]:
        """An array of tag names that exist."""
        if key not in fields.table:
            return ()
        value = fields.table[key]
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            fields.wrong(key, 'an array of tag names, e.g. ["HS1.TT101", "HS1.TT102"]')
            return ()
        return tuple(dict.fromkeys(v for v in value if self._known(fields, key, v)))

    def _known(self, fields: Fields, key: str, name: str) -> bool:
        if not TAG_NAME.fullmatch(name):
            fields.problem(key, f"bad tag name {name!r}")
            return False
        if self.names is not None and name not in self.names:
            fields.problem(key, f"unknown tag {name!r}" + did_you_mean(name, self.names, False))
            return False
        return True


def _label(key: str, index: int, entry: Any) -> str:
    """The context of an item in messages: `symbol SS1.TV301`, `value HS1.TT101`, `pipe #2`."""
    name_key = {"symbol": "id", "value": "tag", "link": "screen"}.get(key)
    name = entry.get(name_key) if name_key and isinstance(entry, dict) else None
    if isinstance(name, str) and name.strip():
        return f"{key} {name}"
    return f"{key} #{index + 1}"


def _text(fields: Fields, key: str) -> Text | None:
    """A text: "English" or { en = "...", zh_CN = "..." }; None when absent or wrong."""
    if key not in fields.table:
        return None
    value = fields.table[key]
    if isinstance(value, str):
        return Text(value)
    if not isinstance(value, dict):
        fields.wrong(key, 'text or { en = "...", zh_CN = "..." }')
        return None
    for language in value:
        if language not in TEXT_LANGUAGES:
            fields.problem(
                key, f"unknown language {language!r}" + did_you_mean(language, TEXT_LANGUAGES)
            )
    en, zh = value.get("en"), value.get("zh_CN", "")
    if not isinstance(en, str) or not isinstance(zh, str):
        fields.problem(key, 'expected { en = "...", zh_CN = "..." } with en given, both text')
        return None
    return Text(en, zh)


def _is_pair(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(map(finite_number, value))


def _pair(
    fields: Fields, key: str, *, required: bool = False, positive: bool = False
) -> tuple[float, float] | None:
    """[x, y]: two finite numbers (above 0 when `positive`)."""
    if key not in fields.table:
        if required:
            fields.problem(key, f"missing ({key} = [x, y])")
        return None
    value = fields.table[key]
    if not _is_pair(value):
        example = "[48, 48]" if positive else "[120, 80]"
        fields.problem(key, f"expected a pair of numbers such as {example}, got {value!r}")
        return None
    x, y = float(value[0]), float(value[1])
    if positive and (x <= 0 or y <= 0):
        fields.problem(key, f"must be above 0, got [{x:g}, {y:g}]")
        return None
    return x, y


def _points(fields: Fields) -> tuple[tuple[float, float], ...] | None:
    """points = [[x, y], [x, y], ...], at least two."""
    if "points" not in fields.table:
        fields.problem("points", "missing (points = [[x, y], [x, y], ...])")
        return None
    value = fields.table["points"]
    if not isinstance(value, list) or len(value) < 2:
        fields.problem("points", "expected at least two points [[x, y], [x, y], ...]")
        return None
    for index, point in enumerate(value):
        if not _is_pair(point):
            fields.problem(
                "points", f"point {index + 1} is not a pair of numbers [x, y]: {point!r}"
            )
            return None
    return tuple((float(x), float(y)) for x, y in value)

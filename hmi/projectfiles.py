"""Reading project files: TOML text with line numbers, typed fields, durations, problems.

Owns the mechanics under `hmi.project`: reading one TOML file with `tomllib` (syntax errors
become problems with line and column), finding the line of a table, of the n-th `[[array]]`
entry and of a key inside it (tomllib reports none), checking the type of each field and
collecting every problem so a person sees them all at once. It knows nothing of tags or
devices; `hmi.project` says which fields exist. No Qt, no I/O beyond reading the files.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drivers.base import parse_duration

__all__ = [
    "Fields",
    "Problem",
    "ProjectError",
    "Report",
    "TomlFile",
    "did_you_mean",
    "finite_number",
    "parse_duration",
    "sub_table_line",
]

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_HEADER = re.compile(r"^\s*\[(?P<array>\[)?\s*(?P<name>[^\[\]]*?)\s*\]\]?\s*(?:#.*)?$")
_ANY_HEADER = re.compile(r"^\s*\[")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a project file: where (file, line), in what (context, field), why."""

    file: str  # relative to the project folder, with '/' separators
    line: int  # 1-based; 0 when no line applies
    field: str
    message: str
    context: str = ""  # "tag HS1.TT101", "device PLC_HS1", "[scan]"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return ": ".join(part for part in (where, self.context, self.field, self.message) if part)


class ProjectError(Exception):
    """A project that cannot be loaded; `problems` lists every problem found, in file order."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class Report:
    """Collects problems; files are ranked in the order they were read, for sorting."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self._rank: dict[str, int] = {}

    def rank(self, file: str) -> None:
        """Remember `file` as the next file in reading order."""
        self._rank.setdefault(file, len(self._rank))

    def add(self, file: str, line: int, context: str, field: str, message: str) -> None:
        """Record one problem."""
        self.problems.append(Problem(file, line, field, message, context))

    def sorted(self) -> list[Problem]:
        """The problems by file (reading order), then line; same-line problems keep order."""
        return sorted(self.problems, key=lambda p: (self._rank.get(p.file, -1), p.line))


def did_you_mean(word: str, options: Iterable[str], listing: bool = True) -> str:
    """ " (did you mean 'x'?)" for a close match, else the list of options (if `listing`)."""
    choices = list(options)
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    if choices and listing:
        return f" (expected one of {', '.join(choices)})"
    return ""


def finite_number(value: Any) -> bool:
    """True for an int or float (not a bool) that is a finite float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond the float range
        return False


def kind(value: Any) -> str:
    """The TOML name of a value's type, for messages."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "table"
    return "date/time"


def _unquote(name: str) -> str:
    parts = [part.strip().strip("\"'") for part in name.split(".")]
    return ".".join(parts)


def _headers(lines: Sequence[str]) -> tuple[dict[str, int], dict[str, list[int]]]:
    """The line of every `[table]` header, and of every `[[array]]` header in order."""
    tables: dict[str, int] = {}
    arrays: dict[str, list[int]] = {}
    for number, text in enumerate(lines, 1):
        match = _HEADER.match(text)
        if match:
            name = _unquote(match.group("name"))
            if match.group("array"):
                arrays.setdefault(name, []).append(number)
            else:
                tables.setdefault(name, number)
    return tables, arrays


def sub_table_line(fields: Fields, key: str) -> int:
    """The line of the `[<array>.<key>]` table that belongs to the `[[<array>]]` entry `fields`
    reads (e.g. `[tag.checks]` after a `[[tag]]`), 0 when it has none."""
    lines = fields.file.lines
    array = ""
    for number in range(fields.header, len(lines) + 1) if fields.header else ():
        match = _HEADER.match(lines[number - 1])
        if match is None:
            continue
        name = _unquote(match.group("name"))
        if match.group("array"):
            if number == fields.header:
                array = name
                continue
            if name == array:
                break
        elif array and name == f"{array}.{key}":
            return number
    return 0


class TomlFile:
    """One parsed TOML file of the project and a way to find the lines of its parts."""

    def __init__(self, rel: str, text: str, data: dict[str, Any] | None) -> None:
        self.rel = rel
        self.lines = text.splitlines()
        self.data = data  # None when the file could not be read or parsed
        self._tables, self._arrays = _headers(self.lines)

    @classmethod
    def read(cls, root: Path, rel: str, report: Report) -> TomlFile:
        """Read and parse `root/rel`; a syntax error is reported with its line and column."""
        report.rank(rel)
        try:
            text = (root / rel).read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            report.add(rel, 0, "", "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")
            return cls(rel, "", None)
        except OSError as exc:
            report.add(rel, 0, "", "", f"cannot be read: {exc.strerror or exc}")
            return cls(rel, "", None)
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            message = str(exc)
            match = _TOML_POSITION.search(message)
            if match:
                line, column = int(match.group(1)), int(match.group(2))
                what = message[: match.start()]
                if what == "Illegal character '\\n'":
                    what = "the line ends inside a string (missing closing quote?)"
                report.add(rel, line, "", "", f"TOML syntax error at column {column}: {what}")
            else:
                last = max(len(text.splitlines()), 1)
                report.add(rel, last, "", "", f"TOML syntax error: {message}")
            return cls(rel, text, None)
        return cls(rel, text, data)

    def table_line(self, name: str) -> int:
        """The line of the `[name]` header; 0 when there is none (inline or dotted keys)."""
        return self._tables.get(name, 0)

    def array_line(self, name: str, index: int) -> int:
        """The line of the `index`-th (0-based) `[[name]]` header; 0 when there is none."""
        lines = self._arrays.get(name, [])
        return lines[index] if 0 <= index < len(lines) else 0

    def key_line(self, header: int, key: str) -> int:
        """The line of `key =` in the table whose header is on line `header` (0: top level)."""
        escaped = re.escape(key)
        pattern = re.compile(rf"""^\s*(?:{escaped}|"{escaped}"|'{escaped}')\s*=""")
        for number in range(header + 1, len(self.lines) + 1):
            text = self.lines[number - 1]
            if _ANY_HEADER.match(text):
                break
            if pattern.match(text):
                return number
        return header


class Fields:
    """Typed access to one table of a file; wrong values are reported with their key's line."""

    def __init__(
        self, report: Report, file: TomlFile, header: int, context: str, table: Mapping[str, Any]
    ) -> None:
        self.report = report
        self.file = file
        self.header = header
        self.context = context
        self.table = table
        self.failed = False  # set when any problem was reported through this object

    def line(self, key: str) -> int:
        """The line of `key` in this table (the header line when the key is absent)."""
        if key not in self.table:
            return self.header
        line = self.file.key_line(self.header, key)
        if line == self.header == 0:  # a top-level table or array of tables
            line = self.file.table_line(key) or self.file.array_line(key, 0)
        return line

    def problem(self, key: str, message: str) -> None:
        """Report a problem with `key` (use '' for the table as a whole)."""
        self.failed = True
        line = self.line(key) if key else self.header
        self.report.add(self.file.rel, line, self.context, key, message)

    def unknown(self, allowed: Sequence[str], hint: str = "") -> None:
        """Report every key of the table that is not in `allowed`."""
        for key in self.table:
            if key not in allowed:
                self.problem(key, "unknown key" + (did_you_mean(key, allowed) or hint))

    def wrong(self, key: str, expected: str) -> None:
        """Report a value of the wrong type."""
        value = self.table[key]
        shown = repr(value) if isinstance(value, str | int | float) else kind(value)
        self.problem(key, f"expected {expected}, got {shown} ({kind(value)})")

    def text(self, key: str, default: str | None = None, required: str = "") -> str | None:
        """A text value; `required` is the hint given when it is missing."""
        if key not in self.table:
            if required:
                self.problem(key, f"missing ({required})")
            return default
        value = self.table[key]
        if not isinstance(value, str):
            self.wrong(key, "text")
            return default
        return value

    def number(self, key: str, default: float | None) -> float | None:
        """A finite number (integer or float)."""
        if key not in self.table:
            return default
        value = self.table[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.wrong(key, "a number")
            return default
        if not finite_number(value):
            self.problem(key, f"expected a finite number, got {value}")
            return default
        return float(value)

    def integer(self, key: str, default: int | None, low: int, high: int) -> int | None:
        """An integer in [low, high]."""
        if key not in self.table:
            return default
        value = self.table[key]
        if isinstance(value, bool) or not isinstance(value, int):
            self.wrong(key, "an integer")
            return default
        if not low <= value <= high:
            self.problem(key, f"{value} is out of range ({low} to {high})")
            return default
        return value

    def boolean(self, key: str, default: bool) -> bool:
        """true or false."""
        if key not in self.table:
            return default
        value = self.table[key]
        if not isinstance(value, bool):
            self.wrong(key, "true or false")
            return default
        return value

    def duration(self, key: str, default: float) -> float:
        """Seconds: a number or text like '250ms'."""
        if key not in self.table:
            return default
        try:
            return parse_duration(self.table[key])
        except ValueError as exc:
            self.problem(key, str(exc))
            return default

    def option(self, key: str, expected: type) -> Any:
        """A driver option of type int, float (durations accepted), bool or str."""
        value = self.table[key]
        if expected is float:
            if isinstance(value, str):
                return self.duration(key, 0.0)
            return self.number(key, None)
        if expected is int:
            return self.integer(key, None, -(2**63), 2**63 - 1)
        if not isinstance(value, expected):
            names = {str: "text", bool: "true or false"}
            self.wrong(key, names.get(expected, expected.__name__))
            return None
        return value

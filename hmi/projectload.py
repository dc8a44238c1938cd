"""Validating a project folder's files into devices, tags and compiled expressions.

Owns the rules of the project format (which keys each table has, what values they take, how
addresses, devices, scan classes and calc tags must agree) and reports every broken rule
through a `Report`, never stopping at the first and never raising a traceback. Drivers are
used only through their class-level `parse`, `natural_type` and `OPTIONS`. `hmi.project`
builds the `Project` from the result. No Qt, no runtime, no screens.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import drivers
from drivers.address import Address, AddressError, split
from drivers.base import DeviceConfig, Driver
from hmi.alarm_config import AlarmReader
from hmi.command_config import CommandReader
from hmi.diagnostics_config import DiagnosticsSettings
from hmi.diagnostics_read import DiagnosticsReader
from hmi.expressions import Expression, ExpressionError, compile_expression
from hmi.history_config import HistorySettings, read_history, read_tag_history
from hmi.projectfiles import Fields, Report, TomlFile, did_you_mean, finite_number
from hmi.publish_config import PUBLISHER_DEVICE, PUBLISHER_FIELDS, PublishConfig, read_publish
from hmi.screen_config import ScreenDef
from hmi.screen_read import ScreenReader
from hmi.tags import LINK_FIELDS, TAG_NAME, DataType, SourceRef, TagDef, link_tag_name

__all__ = ["DEFAULT_SCAN", "DEVICE_KEYS", "PROJECT_KEYS", "TAG_KEYS", "Loader"]

DEFAULT_SCAN: dict[str, float] = {"fast": 0.25, "normal": 1.0, "slow": 10.0}
DEVICE_KEYS = ("driver", "host", "port", "timeout", "simulate", "alarms")
TAG_KEYS = (
    "name",
    "description",
    "address",
    "expr",
    "unit",
    "type",
    "scale",
    "offset",
    "deadband",
    "scan",
    "range",
    "decimals",
    "writable",
    "history",
    "alarms",
    "checks",
    "command",
)
PROJECT_KEYS = ("project", "scan", "publish", "history", "check", "segment")
_TYPE_NAMES = tuple(t.value for t in DataType)
_TYPES = ", ".join(_TYPE_NAMES)
_DEVICE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_SCAN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Loader:
    """Reads one project folder; after `load()`, the fields hold what was valid."""

    def __init__(self, root: Path, report: Report) -> None:
        self.root = root
        self.report = report
        self.name = root.name
        self.description = ""
        self.scan_classes = dict(DEFAULT_SCAN)
        self.scan_known = True  # False when project.toml could not be parsed
        self.devices: dict[str, DeviceConfig] = {}
        self.device_sources: dict[str, SourceRef] = {}
        self.device_drivers: dict[str, str | None] = {}  # None: its driver is unusable
        self.devices_known = True  # False when devices.toml could not be parsed
        self.simulated: dict[str, str] = {}
        self.tags: dict[str, TagDef] = {}
        self.tag_sources: dict[str, SourceRef] = {}  # every well-formed name seen
        self.tags_known = True  # False when a tag file could not be parsed
        self.expressions: dict[str, Expression] = {}
        self.expr_at: dict[str, tuple[str, int, str]] = {}  # calc -> file, line, context
        self._drivers: dict[str, tuple[type[Driver] | None, str]] = {}
        self._load_failures_reported: set[str] = set()
        self.publish: PublishConfig | None = None
        self.history = HistorySettings()
        self._publish_fields: Fields | None = None  # [publish], checked once devices are known
        self.alarms = AlarmReader(report)  # alarms of devices and tags; `.alarms` when valid
        self.diagnostics_reader = DiagnosticsReader(report, self.alarms)
        self.commands = CommandReader(report)  # how writable tags are commanded
        self.diagnostics = DiagnosticsSettings()  # checks, rules and segments, once loaded
        self._project_file: TomlFile | None = None  # [[check]], [[segment]]: read after tags
        self.screens: dict[str, ScreenDef] = {}  # screens/*.toml, read after tags

    @property
    def publish_declared(self) -> bool:
        """True when project.toml has a [publish] table (even one with problems)."""
        return self._publish_fields is not None

    def load(self) -> None:
        """Read every file and check it (calc references and cycles: hmi.project)."""
        self.read_project()
        self.read_devices()
        if self._publish_fields is not None:
            args = (self.name, self.device_drivers, self.devices_known)
            self.publish = read_publish(self._publish_fields, *args)
        for rel in self.tag_files():
            self.read_tags(rel)
        self.check_alarms()
        self.read_screens()

    def check_alarms(self) -> None:
        """Alarms, checks, rules and segments name known tags (once all tags are read)."""
        system: list[str] | None = None
        if self.devices_known:
            system = [link_tag_name(d, f) for d in self.device_drivers for f, *_ in LINK_FIELDS]
            if self.publish_declared:
                system += [link_tag_name(PUBLISHER_DEVICE, f) for f, *_ in PUBLISHER_FIELDS]
        types = {name: tag.type for name, tag in self.tags.items()}
        tags = self.tag_sources if self.tags_known else None
        self.alarms.check(tags, types, system)
        if self._project_file is not None:
            self.diagnostics_reader.read_project(self._project_file, self.tags, tags)
        self.diagnostics_reader.check(tags, system)
        self.diagnostics = self.diagnostics_reader.settings()
        self.commands.check(tags, types)

    def read_screens(self) -> None:
        """screens/*.toml: plant screens whose tags, commands and links are checked."""
        names: set[str] | None = None
        if self.tags_known:
            names = set(self.tag_sources)
            if self.devices_known:
                names |= {link_tag_name(d, f) for d in self.device_drivers for f, *_ in LINK_FIELDS}
            if self.publish_declared:
                names |= {link_tag_name(PUBLISHER_DEVICE, f) for f, *_ in PUBLISHER_FIELDS}
        self.screens = ScreenReader(self.report, self.tags, names).read_folder(self.root)

    # -- drivers -----------------------------------------------------------------------

    def driver(self, scheme: str) -> tuple[type[Driver] | None, str]:
        """The driver class for a scheme, or None and a message saying why not."""
        if scheme not in self._drivers:
            cls: type[Driver] | None = None
            message = ""
            if scheme not in drivers.SCHEMES:
                known = sorted(drivers.SCHEMES)
                message = f"unknown driver {scheme!r}" + did_you_mean(scheme, known)
            else:
                try:
                    cls = drivers.driver_spec(scheme)
                except Exception as exc:  # a broken driver module must not crash loading
                    message = (
                        f"the {scheme!r} driver cannot be loaded ({type(exc).__name__}: {exc})"
                    )
            self._drivers[scheme] = (cls, message)
        return self._drivers[scheme]

    def driver_problem(self, fields: Fields, key: str, scheme: str, prefix: str = "") -> None:
        """Report an unusable driver; a driver that fails to import is reported only once."""
        message = self.driver(scheme)[1]
        if scheme in drivers.SCHEMES:
            if scheme in self._load_failures_reported:
                fields.failed = True
                return
            self._load_failures_reported.add(scheme)
        fields.problem(key, prefix + message)

    # -- project.toml --------------------------------------------------------------------

    def read_project(self) -> None:
        """project.toml: [project] name, description; [scan] classes; [publish] (read later)."""
        rel = "project.toml"
        if not (self.root / rel).is_file():
            self.report.rank(rel)
            self.report.add(
                rel,
                0,
                "",
                "",
                'missing: every project folder needs a project.toml with [project] name = "..."',
            )
            return
        file = TomlFile.read(self.root, rel, self.report)
        if file.data is None:
            self.scan_known = False
            return
        self._project_file = file
        top = Fields(self.report, file, 0, "", file.data)
        top.unknown(PROJECT_KEYS)
        if isinstance(history := file.data.get("history"), dict):
            self.history = read_history(
                Fields(self.report, file, file.table_line("history"), "[history]", history)
            )
        elif history is not None:
            top.wrong("history", "a table [history]")
        if isinstance(publish := file.data.get("publish"), dict):
            self._publish_fields = Fields(
                self.report, file, file.table_line("publish"), "[publish]", publish
            )
        elif publish is not None:
            top.wrong("publish", "a table [publish]")
        meta = file.data.get("project")
        if not isinstance(meta, dict):
            if meta is None:
                top.problem("project", 'missing [project] table with name = "..."')
            else:
                top.wrong("project", "a table [project]")
        else:
            fields = Fields(self.report, file, file.table_line("project"), "[project]", meta)
            fields.unknown(("name", "description"))
            self.name = fields.text("name", self.name, required='name = "..."') or self.name
            self.description = fields.text("description", "") or ""
        scan = file.data.get("scan")
        if scan is None:
            return
        if not isinstance(scan, dict):
            top.wrong("scan", "a table [scan] of name = period")
            return
        fields = Fields(self.report, file, file.table_line("scan"), "[scan]", scan)
        for key in scan:
            if not _SCAN_NAME.fullmatch(key):
                fields.problem(key, "bad scan class name (letters, digits and '_')")
                continue
            self.scan_classes[key] = fields.duration(key, self.scan_classes.get(key, 1.0))

    # -- devices.toml --------------------------------------------------------------------

    def read_devices(self) -> None:
        """devices.toml: one table per device."""
        rel = "devices.toml"
        if not (self.root / rel).is_file():
            return
        file = TomlFile.read(self.root, rel, self.report)
        if file.data is None:
            self.devices_known = False
            return
        for name, table in file.data.items():
            self.read_device(file, name, table)

    def read_device(self, file: TomlFile, name: str, table: Any) -> None:
        """One [DEVICE] table."""
        header = file.table_line(name) or file.key_line(0, name)
        context = f"device {name}"
        self.device_drivers[name] = None
        self.device_sources[name] = SourceRef(file.rel, header)
        if not isinstance(table, dict):
            self.report.add(
                file.rel, header, context, "", f'expected a table [{name}] with driver = "..."'
            )
            return
        fields = Fields(self.report, file, header, context, table)
        if not _DEVICE_NAME.fullmatch(name):
            fields.problem(
                "", "bad device name (letters, digits, '_' and '-', starting with a letter)"
            )
        scheme = fields.text("driver", required='driver = "modbus", the scheme of its addresses')
        cls: type[Driver] | None = None
        if scheme is not None:
            cls = self.driver(scheme)[0]
            if cls is None:
                self.driver_problem(fields, "driver", scheme)
        host = fields.text("host", "127.0.0.1") or "127.0.0.1"
        port = fields.integer("port", 0, 0, 65535) or 0
        timeout = fields.duration("timeout", 1.0)
        simulate = fields.text("simulate")
        if simulate is not None:
            if simulate.strip():
                self.simulated[name] = simulate
            else:
                fields.problem("simulate", "must not be empty")
        options: dict[str, Any] = {}
        if cls is not None:
            self.device_drivers[name] = scheme
            known: Mapping[str, type] = getattr(cls, "OPTIONS", {})
            allowed = (*DEVICE_KEYS, *known)
            for key in table:
                if key in DEVICE_KEYS:
                    continue
                if key not in known:
                    fields.problem(key, "unknown key" + did_you_mean(key, allowed))
                    continue
                value = fields.option(key, known[key])
                if value is not None:
                    options[key] = value
        self.alarms.read_device(fields, name)
        self.devices[name] = DeviceConfig(name, scheme or "", host, port, timeout, options)

    # -- tags ------------------------------------------------------------------------------

    def tag_files(self) -> list[str]:
        """tags.toml, then tags/*.toml sorted by name."""
        files = ["tags.toml"] if (self.root / "tags.toml").is_file() else []
        folder = self.root / "tags"
        if folder.is_dir():
            files += sorted(f"tags/{p.name}" for p in folder.glob("*.toml") if p.is_file())
        return files

    def read_tags(self, rel: str) -> None:
        """One tag file: an array of [[tag]] tables."""
        file = TomlFile.read(self.root, rel, self.report)
        if file.data is None:
            self.tags_known = False
            return
        top = Fields(self.report, file, 0, "", file.data)
        top.unknown(("tag",))
        entries = file.data.get("tag", [])
        if isinstance(entries, dict):
            top.problem("tag", "write each tag as [[tag]] (an array of tables), not [tag]")
        elif not isinstance(entries, list):
            top.wrong("tag", "an array of tables [[tag]]")
        else:
            for index, entry in enumerate(entries):
                self.read_tag(file, index, entry)

    def read_tag(self, file: TomlFile, index: int, entry: Any) -> None:
        """One [[tag]] table."""
        header = file.array_line("tag", index)
        raw_name = entry.get("name") if isinstance(entry, dict) else None
        context = f"tag #{index + 1}"
        if isinstance(raw_name, str) and raw_name:
            context = f"tag {raw_name}" if TAG_NAME.fullmatch(raw_name) else f"tag {raw_name!r}"
        if not isinstance(entry, dict):
            self.report.add(file.rel, header, context, "", "expected a table [[tag]]")
            return
        fields = Fields(self.report, file, header, context, entry)
        fields.unknown(TAG_KEYS)
        name = self.tag_name(fields, SourceRef(file.rel, header))
        address: Address | None = None
        natural = DataType.FLOAT
        expr = fields.text("expr")
        address_text = fields.text("address")
        if "address" in entry and "expr" in entry:
            fields.problem("expr", "a tag has either an address or an expr, not both")
        elif "address" not in entry and "expr" not in entry:
            fields.problem(
                "address", 'missing: give address = "scheme://DEVICE/..." or expr = "..."'
            )
        elif address_text is not None:
            address, natural = self.address(fields, address_text)
        elif expr is not None:
            self.expression(fields, name, expr)
        data_type = natural
        type_text = fields.text("type")
        if type_text is not None:
            if type_text in _TYPE_NAMES:
                data_type = DataType(type_text)
            else:
                fields.problem("type", f"unknown type {type_text!r} (expected one of {_TYPES})")
        scale = fields.number("scale", 1.0)
        if scale == 0:
            fields.problem("scale", "must not be 0 (every value would read as the offset)")
        offset = fields.number("offset", 0.0)
        if type_text is None and data_type is DataType.INT and (scale != 1.0 or offset != 0.0):
            data_type = DataType.FLOAT  # a scaled integer register carries fractions
        deadband = fields.number("deadband", 0.0)
        if deadband is not None and deadband < 0:
            fields.problem("deadband", f"must not be negative, got {deadband:g}")
        scan = fields.text("scan", "normal") or "normal"
        if self.scan_known and scan not in self.scan_classes:
            fields.problem(
                "scan", f"unknown scan class {scan!r}" + did_you_mean(scan, self.scan_classes)
            )
        low, high = self.range(fields)
        if "expr" in entry and data_type is DataType.STRING:
            fields.problem("type", "a calc tag computes numbers or booleans, not text")
        recording = read_tag_history(fields)
        self.alarms.read_tag(fields, name, data_type)
        writable = fields.boolean("writable", False)
        if writable and "expr" in entry:
            fields.problem("writable", "a calc tag (expr) cannot be written")
        tag = TagDef(
            name=name or "",
            address=address,
            expr=expr,
            type=data_type,
            description=fields.text("description", "") or "",
            unit=fields.text("unit", "") or "",
            scale=scale or 1.0,
            offset=offset or 0.0,
            deadband=deadband or 0.0,
            scan=scan,
            low=low,
            high=high,
            writable=writable,
            decimals=fields.integer("decimals", None, 0, 15),
            history=recording.enabled,
            history_deadband=recording.deadband,
            history_min_interval=recording.min_interval,
            history_max_interval=recording.max_interval,
            source=SourceRef(file.rel, header),
        )
        self.diagnostics_reader.read_tag(fields, name, tag)
        self.commands.read_tag(fields, name, tag)
        if name is not None and not fields.failed:
            self.tags[name] = tag

    def tag_name(self, fields: Fields, where: SourceRef) -> str | None:
        """The tag's name if it is well formed and new (recorded for expression checks)."""
        name = fields.text("name", required="every tag needs a name such as HS1.TT101")
        if name is None:
            return None
        if not TAG_NAME.fullmatch(name):
            fields.problem(
                "name",
                f"bad tag name {name!r} (dotted identifiers such as "
                "HS1.TT101: letters, digits and '_')",
            )
            return None
        if name.startswith("_"):
            fields.problem(
                "name",
                "names starting with '_' are reserved for system tags (such as _diag.PLC1.online)",
            )
            return None
        if any(part.startswith("__") for part in name.split(".")):
            fields.problem("name", "parts of a name must not start with '__'")
            return None
        first = self.tag_sources.get(name)
        if first is not None:
            fields.problem("name", f"duplicate tag name {name!r} (first defined at {first})")
            return None
        self.tag_sources[name] = where
        return name

    def address(self, fields: Fields, text: str) -> tuple[Address | None, DataType]:
        """Parse an address with its driver and check its device; also its natural type."""
        try:
            scheme = split(text).scheme
        except AddressError as exc:
            fields.problem("address", str(exc))
            return None, DataType.FLOAT
        cls = self.driver(scheme)[0]
        if cls is None:
            self.driver_problem(fields, "address", scheme, prefix=f"{text}: ")
            return None, DataType.FLOAT
        try:
            address = cls.parse(text)
            natural = cls.natural_type(address)
        except AddressError as exc:
            fields.problem("address", str(exc))
            return None, DataType.FLOAT
        except Exception as exc:  # a driver bug must not crash loading
            fields.problem(
                "address",
                f"{text}: the {scheme!r} driver failed on it ({type(exc).__name__}: {exc})",
            )
            return None, DataType.FLOAT
        device = address.authority
        if self.devices_known and device not in self.device_drivers:
            hint = did_you_mean(device, self.device_drivers, listing=False)
            fields.problem(
                "address",
                f"{text}: unknown device {device!r}" + (hint or " (declare it in devices.toml)"),
            )
        elif (driver := self.device_drivers.get(device)) is not None and (
            driver != scheme and self.driver(driver)[0] is not cls  # mqtt:// and spb:// share one
        ):
            fields.problem(
                "address", f"{text}: device {device!r} uses driver {driver!r}, not {scheme!r}"
            )
        return address, DataType(natural) if natural in _TYPE_NAMES else DataType.FLOAT

    def expression(self, fields: Fields, name: str | None, text: str) -> None:
        """Compile a calc tag's expression (references are checked once all tags are read)."""
        try:
            compiled = compile_expression(text)
        except ExpressionError as exc:
            fields.problem("expr", str(exc))
            return
        if name is not None:
            self.expressions[name] = compiled
            self.expr_at[name] = (fields.file.rel, fields.line("expr"), fields.context)

    @staticmethod
    def range(fields: Fields) -> tuple[float | None, float | None]:
        """range = [low, high], both finite numbers, low below high."""
        if "range" not in fields.table:
            return None, None
        value = fields.table["range"]
        if not (isinstance(value, list) and len(value) == 2 and all(map(finite_number, value))):
            fields.problem("range", "expected [low, high] with two numbers, e.g. [0, 150]")
            return None, None
        low, high = float(value[0]), float(value[1])
        if low >= high:
            fields.problem("range", f"low {low:g} must be below high {high:g}")
            return None, None
        return low, high

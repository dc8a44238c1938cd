"""The project: a folder of TOML files a person reads, reviews and diffs, loaded into objects.

Owns the `Project` model (devices, scan classes, tag definitions, compiled calc expressions),
`load_project` (which reports every problem at once as a `ProjectError` whose lines read
`file:line: context: field: message`), the order in which calc tags are computed and which
calc tags depend on each input, and `check` (warnings for `conduit check`). The file rules
live in `hmi.projectload`, the TOML mechanics in `hmi.projectfiles`. No Qt, no runtime.
"""

from __future__ import annotations

import graphlib
import keyword
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from drivers.base import DeviceConfig
from hmi.alarm_config import AlarmDef
from hmi.command_config import CommandDef
from hmi.diagnostics_config import DiagnosticsSettings
from hmi.expressions import Expression
from hmi.history_config import HistorySettings
from hmi.projectfiles import Problem, ProjectError, Report, did_you_mean
from hmi.projectload import DEFAULT_SCAN, Loader
from hmi.publish_config import (
    PUBLISHER_DEVICE,
    PUBLISHER_FIELDS,
    PublishConfig,
    unmatched_patterns,
)
from hmi.screen_config import ScreenDef
from hmi.tags import LINK_FIELDS, SourceRef, TagDef

__all__ = [
    "DEFAULT_SCAN",
    "Problem",
    "Project",
    "ProjectError",
    "calc_order",
    "check",
    "check_project",
    "dependents_of",
    "find_cycles",
    "load_project",
]

MODICON_SCHEMES = frozenset({"modbus"})  # schemes whose last path segment is a register offset
_MODICON_FIRST = 10001
_LINK_FIELDS = tuple(name for name, *_ in LINK_FIELDS)
_PUBLISHER_FIELDS = tuple(name for name, *_ in PUBLISHER_FIELDS)


@dataclass(frozen=True)
class Project:
    """A loaded, valid project; calc order and dependents are derived from `expressions`."""

    name: str
    description: str
    root: Path
    scan_classes: dict[str, float]
    devices: dict[str, DeviceConfig]
    simulated: dict[str, str]  # device name -> simulator model served with --simulate
    tags: dict[str, TagDef]  # in file order
    expressions: dict[str, Expression]  # calc tag name -> compiled expression
    device_sources: dict[str, SourceRef] = field(default_factory=dict, repr=False)
    publish: PublishConfig | None = None  # [publish]: re-publish tags to an MQTT broker
    history: HistorySettings = field(default_factory=HistorySettings)  # [history]
    alarms: dict[str, AlarmDef] = field(default_factory=dict)  # alarm id -> definition
    commands: dict[str, CommandDef] = field(default_factory=dict)  # writable tag -> its rules
    # data-quality checks, plausibility rules and leak segments ([[check]], [[segment]])
    diagnostics: DiagnosticsSettings = field(default_factory=DiagnosticsSettings)
    screens: dict[str, ScreenDef] = field(default_factory=dict)  # screens/*.toml, by name
    # input tag name -> calc tags to recompute when it changes, in computation order
    dependents: dict[str, list[str]] = field(init=False, repr=False, compare=False)
    _calc_order: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        order = calc_order(self.expressions)
        object.__setattr__(self, "_calc_order", tuple(order))
        object.__setattr__(self, "dependents", dependents_of(self.expressions, order))

    def tag_order_for_calcs(self) -> list[str]:
        """Calc tags sorted so that each comes after every calc tag it reads."""
        return list(self._calc_order)


def calc_order(expressions: Mapping[str, Expression]) -> list[str]:
    """Calc tags in dependency order (inputs first), otherwise in their given order."""
    order: list[str] = []
    done: set[str] = set()
    for start in expressions:
        if start in done:
            continue
        active = {start}
        stack = [(start, iter(sorted(expressions[start].names)))]
        while stack:
            node, refs = stack[-1]
            for ref in refs:
                if ref in expressions and ref not in done and ref not in active:
                    active.add(ref)
                    stack.append((ref, iter(sorted(expressions[ref].names))))
                    break
            else:
                stack.pop()
                active.discard(node)
                done.add(node)
                order.append(node)
    return order


def dependents_of(expressions: Mapping[str, Expression], order: list[str]) -> dict[str, list[str]]:
    """For each referenced tag, every calc tag that uses it directly or through others."""
    users: dict[str, list[str]] = {}
    for calc in order:
        for name in expressions[calc].names:
            users.setdefault(name, []).append(calc)
    reach: dict[str, set[str]] = {}  # calc -> calc tags that use it, directly or not
    for calc in reversed(order):  # a calc's users come after it, so theirs are known
        found: set[str] = set()
        for user in users.get(calc, ()):
            found.add(user)
            found |= reach.get(user, set())
        reach[calc] = found
    rank = {name: index for index, name in enumerate(order)}
    result: dict[str, list[str]] = {}
    for name, direct in users.items():
        found = reach.get(name) or set(direct).union(*(reach.get(u, set()) for u in direct))
        result[name] = sorted(found, key=rank.__getitem__)
    return result


def load_project(path: str | Path) -> Project:
    """Load and validate a project folder; raise ProjectError listing every problem."""
    root = Path(path)
    if not root.is_dir():
        raise ProjectError(
            [
                Problem(
                    str(root),
                    0,
                    "",
                    "not a project folder (expected a folder "
                    "with project.toml, devices.toml and tags.toml)",
                )
            ]
        )
    report = Report()
    loader = Loader(root, report)
    loader.load()
    _check_calcs(loader, report)
    if report.problems:
        raise ProjectError(report.sorted())
    return Project(
        name=loader.name,
        description=loader.description,
        root=root,
        scan_classes=loader.scan_classes,
        devices=loader.devices,
        simulated=loader.simulated,
        tags=loader.tags,
        expressions=loader.expressions,
        device_sources=loader.device_sources,
        publish=loader.publish,
        history=loader.history,
        alarms=loader.alarms.alarms,
        commands=loader.commands.commands,
        diagnostics=loader.diagnostics,
        screens=loader.screens,
    )


def find_cycles(expressions: Mapping[str, Expression]) -> list[list[str]]:
    """Each cycle among calc tags as [A, B, ..., A] (A uses B), starting at its first tag."""
    rank = {name: index for index, name in enumerate(expressions)}
    graph = {
        name: {ref for ref in expr.names if ref in expressions}
        for name, expr in expressions.items()
    }
    cycles: list[list[str]] = []
    while True:
        try:
            graphlib.TopologicalSorter(graph).prepare()
        except graphlib.CycleError as exc:
            members: list[str] = list(reversed(exc.args[1]))[:-1]
            start = members.index(min(members, key=rank.__getitem__))
            ordered = members[start:] + members[:start]
            cycles.append([*ordered, ordered[0]])
            for node in members:
                graph.pop(node, None)
            for refs in graph.values():
                refs.difference_update(members)
            continue
        return sorted(cycles, key=lambda cycle: rank[cycle[0]])


def _check_calcs(loader: Loader, report: Report) -> None:
    """Every reference of a calc tag names a tag; no calc tag depends on itself."""
    for name, expr in loader.expressions.items():
        rel, line, context = loader.expr_at[name]
        for ref in sorted(expr.names):
            if ref.startswith("_"):
                problem = _system_tag_problem(loader, ref)
            elif ref in loader.tag_sources or not loader.tags_known:
                continue
            else:
                hint = did_you_mean(ref, loader.tag_sources, listing=False)
                problem = f"unknown tag {ref!r}{hint}"
            if problem:
                report.add(rel, line, context, "expr", problem)
    for cycle in find_cycles(loader.expressions):
        rel, line, context = loader.expr_at[cycle[0]]
        report.add(
            rel, line, context, "expr", f"calc cycle: {' -> '.join(cycle)} (each uses the next)"
        )


def _system_tag_problem(loader: Loader, ref: str) -> str:
    """What is wrong with a reference to a system tag (`_diag.DEVICE.field`), or ''."""
    prefix, _, rest = ref.partition(".")
    device, _, name = rest.rpartition(".")
    if prefix != "_diag" or not device:
        return f"unknown system tag {ref!r} (system tags are _diag.DEVICE.field)"
    if device == PUBLISHER_DEVICE and loader.publish_declared:
        if name not in _PUBLISHER_FIELDS:
            return f"{ref}: unknown field {name!r}" + did_you_mean(name, _PUBLISHER_FIELDS)
        return ""
    if loader.devices_known and device not in loader.device_drivers:
        hint = did_you_mean(device, loader.device_drivers, listing=False)
        return f"{ref}: unknown device {device!r}{hint}"
    if name not in _LINK_FIELDS:
        return f"{ref}: unknown field {name!r}" + did_you_mean(name, _LINK_FIELDS)
    return ""


def check_project(project: Project) -> list[Problem]:
    """Warnings that do not stop a project from loading, for `conduit check`."""
    warnings: list[Problem] = []
    used: set[str] = set()
    for tag in project.tags.values():
        where, context = tag.source, f"tag {tag.name}"
        address = tag.address
        if address is not None:
            used.add(address.authority)
            offset = address.segments[-1].split(".")[0] if address.segments else ""
            if (
                address.scheme in MODICON_SCHEMES
                and offset.isdigit()
                and int(offset) >= _MODICON_FIRST
            ):
                warnings.append(
                    Problem(
                        where.file,
                        where.line,
                        "address",
                        (
                            f"offset {offset} looks like a 1-based Modicon reference; offsets are "
                            "zero-based register numbers (Modicon 40001 is hr/0)"
                        ),
                        context,
                    )
                )
        for part in tag.name.split("."):
            if keyword.iskeyword(part):
                warnings.append(
                    Problem(
                        where.file,
                        where.line,
                        "name",
                        (
                            f"{part!r} is a Python keyword, so this tag cannot be used in "
                            "expressions"
                        ),
                        context,
                    )
                )
    if project.publish is not None:
        used.add(project.publish.device)
        names = [*project.tags, *(f"_diag.{PUBLISHER_DEVICE}.{f}" for f in _PUBLISHER_FIELDS)]
        for device in project.devices:
            names += [f"_diag.{device}.{f}" for f in _LINK_FIELDS]
        where = project.publish.source
        for pattern in unmatched_patterns(project.publish, names):
            message = f"{pattern!r} matches no tag"
            warnings.append(Problem(where.file, where.line, "tags", message, "[publish]"))
    for name in project.devices:
        if name not in used:
            where = project.device_sources.get(name, SourceRef("devices.toml"))
            warnings.append(
                Problem(where.file, where.line, "", "no tag uses this device", f"device {name}")
            )
    if not project.tags:
        warnings.append(Problem("tags.toml", 0, "", "the project has no tags"))
    return warnings


check = check_project

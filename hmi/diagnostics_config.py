"""Data-quality checks, plausibility rules and leak segments of a project: the plain records.

A tag's `checks = { frozen = "15m", noise = 0.05, spike_rate = 2.0, range = true,
running = "HS1.P101.RUN" }` in a tags file, and `[[check]]` (plausibility rules) and
`[[segment]]` (network segments for leak detection) tables in project.toml. The reader
(`hmi.diagnostics_read`) fills these records and the alarms they raise; `hmi.diagnostics`
evaluates them at run time and writes its findings to the system tags named here, which the
alarm engine watches like any other tag.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hmi.tags import SourceRef

__all__ = [
    "DiagnosticsSettings",
    "LeakSegment",
    "PlausibilityRule",
    "SignalCheck",
    "check_tag_name",
    "leak_tag_name",
    "signal_tag_name",
]

SIGNAL_FINDINGS = ("frozen", "spike", "range")  # `_quality.<TAG>.<finding>`, bool
LEAK_FIELDS = ("rate", "imbalance", "threshold", "confidence")  # `_leak.<SEGMENT>.<field>`


def signal_tag_name(tag: str, finding: str) -> str:
    """The system tag holding one finding of one tag, e.g. `_quality.SS2.TT201.frozen`."""
    return f"_quality.{tag}.{finding}"


def check_tag_name(rule: str) -> str:
    """The system tag that is True while plausibility rule `rule` fails."""
    return f"_check.{rule}.failed"


def leak_tag_name(segment: str, field_name: str) -> str:
    """A leak-detection system tag of a segment, e.g. `_leak.N1.rate`."""
    return f"_leak.{segment}.{field_name}"


@dataclass(frozen=True, slots=True)
class SignalCheck:
    """The data-quality checks of one tag (a check left at None is not made)."""

    tag: str
    frozen_after: float | None = None  # seconds without movement beyond `noise`
    noise: float = 0.0  # what a live sensor moves at least (default: the tag's deadband)
    spike_rate: float | None = None  # units per second the process can really move
    spike_within: float = 10.0  # seconds a spike may last before it counts as a step
    spike_hold: float = 300.0  # seconds the spike finding stays up after the last spike
    range: bool = False  # alarm while the value is outside the tag's physical range
    running: str | None = None  # expression: frozen is judged only while it is true
    area: str = ""
    source: SourceRef = field(default_factory=SourceRef, compare=False)


@dataclass(frozen=True, slots=True)
class PlausibilityRule:
    """A cross-check between tags: `rule` is an expression that is true while plausible."""

    name: str
    rule: str
    on_delay: float = 60.0  # seconds it must fail before the alarm
    area: str = ""
    description: str = ""
    source: SourceRef = field(default_factory=SourceRef, compare=False)


@dataclass(frozen=True, slots=True)
class LeakSegment:
    """A network segment bounded by meters, watched by mass balance."""

    name: str
    inflow: tuple[str, ...]
    outflow: tuple[str, ...]
    uncertainty_pct: float = 1.0  # each meter's standard uncertainty, % of reading
    window: float = 600.0  # seconds averaged
    min_duration: float = 300.0  # seconds the imbalance must persist
    pressure: tuple[str, ...] = ()  # pressure tags on the segment (confidence)
    running: str | None = None  # expression: judged only while it is true
    area: str = ""
    description: str = ""
    unit: str = ""  # of the flows (from the first inflow meter)
    source: SourceRef = field(default_factory=SourceRef, compare=False)


@dataclass(frozen=True, slots=True)
class DiagnosticsSettings:
    """Everything a project asks `hmi.diagnostics` to watch."""

    signals: dict[str, SignalCheck] = field(default_factory=dict)  # tag -> checks
    rules: dict[str, PlausibilityRule] = field(default_factory=dict)
    segments: dict[str, LeakSegment] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.signals or self.rules or self.segments)

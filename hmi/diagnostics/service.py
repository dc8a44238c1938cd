"""Diagnostics at run time: a project's signal checks, plausibility rules and leak segments
evaluated on its tags, and link outages recorded.

The service is fed twice, both on the runtime thread: `on_changes` (a runtime subscriber) sees
every change, which spike detection and link outages need; `evaluate` (the read function of
its system tags, called every second with the link diagnostics) advances what depends on time:
frozen values, out-of-range flags, plausibility rules, segment balances, and the seconds each
checked tag spent with a finding. Its findings are system tags (`hmi.diagnostics_config`
names them), so the alarm engine raises frozen, spike, range, plausibility and leak alarms on
them like on any tag, and the historian records them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hmi.diagnostics.leak import LeakFinding, MassBalance, SegmentDef
from hmi.diagnostics.signal import FrozenDetector, SpikeDetector
from hmi.diagnostics_config import (
    DiagnosticsSettings,
    LeakSegment,
    PlausibilityRule,
    SignalCheck,
    check_tag_name,
    leak_tag_name,
    signal_tag_name,
)
from hmi.expressions import Expression, compile_expression
from hmi.tags import DataType, Quality, Reason, TagDef, Value, link_tag_name

if TYPE_CHECKING:  # the records go to the relational store: SQLAlchemy, imported by start
    from sqlalchemy import Engine

    from hmi.diagnostics.records import RecordWriter

__all__ = ["DiagnosticsService"]

MAX_STEP = 5.0  # seconds: a longer gap between evaluations (a stalled thread) counts as this
CONNECT_GRACE = 30.0  # seconds a device may take to connect at start before it is an outage


@dataclass(slots=True)
class _Signal:
    check: SignalCheck
    frozen: FrozenDetector | None
    spike: SpikeDetector | None
    running: Expression | None
    names: tuple[str, str, str]  # system tags: frozen, spike, range
    spike_until: float = -math.inf
    flags: dict[str, bool] = field(
        default_factory=lambda: {"bad": False, "frozen": False, "range": False, "spike": False}
    )
    spikes_seen: int = 0  # spikes not yet added to the records


@dataclass(slots=True)
class _Rule:
    rule: PlausibilityRule
    expression: Expression
    name: str


@dataclass(slots=True)
class _Segment:
    segment: LeakSegment
    balance: MassBalance
    running: Expression | None
    finding: LeakFinding | None = None


def _number(value: Value) -> float | None:
    v = value.value
    if value.quality is Quality.GOOD and isinstance(v, int | float) and not isinstance(v, bool):
        return float(v) if math.isfinite(v) else None
    return None


class DiagnosticsService:
    """Evaluates signal checks, plausibility rules and leak segments; records link outages."""

    def __init__(
        self,
        settings: DiagnosticsSettings,
        tags: Mapping[str, TagDef],
        read: Callable[[str], Value],
        *,
        devices: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._read = read
        self._clock = clock
        self._writer: RecordWriter | None = None
        self._online_tags = {link_tag_name(d, "online"): d for d in devices}
        self._connected: set[str] = set()  # devices seen online since the start
        self._connecting: dict[str, float] = {}  # not yet seen online: offline since
        self._signals: dict[str, _Signal] = {}
        for tag, check in settings.signals.items():
            self._signals[tag] = _Signal(
                check,
                FrozenDetector(check.noise, check.frozen_after)
                if check.frozen_after is not None
                else None,
                SpikeDetector(check.spike_rate, check.spike_within)
                if check.spike_rate is not None
                else None,
                compile_expression(check.running) if check.running else None,
                (
                    signal_tag_name(tag, "frozen"),
                    signal_tag_name(tag, "spike"),
                    signal_tag_name(tag, "range"),
                ),
            )
        self._rules = [
            _Rule(rule, compile_expression(rule.rule), check_tag_name(rule.name))
            for rule in settings.rules.values()
        ]
        self._segments = [
            _Segment(
                seg,
                MassBalance(
                    SegmentDef(
                        seg.name,
                        seg.inflow,
                        seg.outflow,
                        seg.uncertainty_pct,
                        seg.window,
                        seg.min_duration,
                        seg.pressure,
                    )
                ),
                compile_expression(seg.running) if seg.running else None,
            )
            for seg in settings.segments.values()
        ]
        self._units = {name: t.unit for name, t in tags.items()}
        self._last: float | None = None
        self.evaluations = 0

    # ---- system tags -------------------------------------------------------------------------

    def tag_defs(self) -> list[TagDef]:
        """The system tags holding the findings."""
        out: list[TagDef] = []
        for tag, signal in self._signals.items():
            for finding, name in zip(("frozen", "spike", "range"), signal.names, strict=True):
                out.append(
                    TagDef(
                        name=name,
                        description=f"{tag}: {finding} (data-quality finding)",
                        type=DataType.BOOL,
                    )
                )
        for rule in self._rules:
            text = rule.rule.description or rule.rule.rule
            out.append(
                TagDef(name=rule.name, description=f"Implausible: {text}", type=DataType.BOOL)
            )
        for seg in self._segments:
            name, unit = seg.segment.name, seg.segment.unit
            out += [
                TagDef(
                    name=leak_tag_name(name, field_name),
                    description=f"Segment {name}: {text}",
                    unit=unit,
                    decimals=2,
                )
                for field_name, text in (
                    ("rate", "estimated leak rate (0 without a leak)"),
                    ("imbalance", "mean inflow - outflow over the window"),
                    ("threshold", "imbalance that counts as a leak"),
                )
            ]
            out.append(
                TagDef(
                    name=leak_tag_name(name, "confidence"),
                    description=f"Segment {name}: leak confidence (medium, high)",
                    type=DataType.STRING,
                    history=False,
                )
            )
        return out

    def evaluate(self) -> dict[str, Any]:
        """Advance every time-dependent check to now; the system tags' values (runtime thread)."""
        now = self._clock()
        dt = 0.0 if self._last is None else min(max(now - self._last, 0.0), MAX_STEP)
        self._last = now
        self.evaluations += 1
        out: dict[str, Any] = {}
        for tag, signal in self._signals.items():
            self._signal(tag, signal, now, dt, out)
        read = self._read
        for rule in self._rules:
            result, quality, _ = rule.expression.evaluate(read)
            out[rule.name] = quality is Quality.GOOD and not bool(result)
        for seg in self._segments:
            self._balance(seg, now, out)
        if self._connecting and self._writer is not None:
            for device, since in list(self._connecting.items()):
                if now - since >= CONNECT_GRACE:  # it never connected: an outage from the start
                    del self._connecting[device]
                    self._writer.outage_began(device, since)
        return out

    def _signal(self, tag: str, s: _Signal, now: float, dt: float, out: dict[str, Any]) -> None:
        value = self._read(tag)
        number = _number(value)
        flags = s.flags
        was = dict(flags)
        out_of_range = value.reason is Reason.OUT_OF_RANGE
        flags["bad"] = value.quality is not Quality.GOOD and not out_of_range
        flags["range"] = out_of_range  # counted always; alarmed where the check asks for it
        if s.frozen is not None:
            running = True
            if s.running is not None:
                result, quality, _ = s.running.evaluate(self._read)
                running = quality is Quality.GOOD and bool(result)
            flags["frozen"] = s.frozen.update(now, number, running)
        flags["spike"] = now < s.spike_until
        frozen_name, spike_name, range_name = s.names
        out[frozen_name] = flags["frozen"]
        out[spike_name] = flags["spike"]
        out[range_name] = flags["range"]
        writer = self._writer
        if writer is None:
            return
        counts = {f"{k}_count": 1 for k in ("bad", "frozen", "range") if flags[k] and not was[k]}
        if s.spikes_seen:
            counts["spike_count"] = s.spikes_seen
            s.spikes_seen = 0
        if dt > 0 or counts:
            faulty = any(flags.values())
            writer.add_quality(
                tag,
                now,
                {
                    "watched_s": dt,
                    "faulty_s": dt if faulty else 0.0,
                    "bad_s": dt if flags["bad"] else 0.0,
                    "frozen_s": dt if flags["frozen"] else 0.0,
                    "range_s": dt if flags["range"] else 0.0,
                },
                counts,
            )

    def _balance(self, seg: _Segment, now: float, out: dict[str, Any]) -> None:
        spec = seg.segment
        running = True
        if seg.running is not None:
            result, quality, _ = seg.running.evaluate(self._read)
            running = quality is Quality.GOOD and bool(result)
        if running:
            flows = {t: _number(self._read(t)) for t in (*spec.inflow, *spec.outflow)}
            pressures = [_number(self._read(t)) for t in spec.pressure]
            known = [p for p in pressures if p is not None]
            # the mean of the segment's pressures, only when all read: a missing one shifts it
            pressure = sum(known) / len(known) if known and len(known) == len(pressures) else None
            seg.finding = seg.balance.update(now, flows, pressure)
        else:  # a stopped network has no balance to judge: start afresh when it runs again
            seg.balance = MassBalance(seg.balance.segment)
            seg.finding = None
        f = seg.finding
        name = spec.name
        leaking = f is not None and f.leaking
        out[leak_tag_name(name, "rate")] = f.imbalance if f is not None and leaking else 0.0
        out[leak_tag_name(name, "imbalance")] = (
            f.imbalance if f is not None and math.isfinite(f.imbalance) else None
        )
        out[leak_tag_name(name, "threshold")] = (
            f.threshold if f is not None and math.isfinite(f.threshold) else None
        )
        out[leak_tag_name(name, "confidence")] = f.confidence if f is not None else ""

    # ---- changes (runtime subscriber) ----------------------------------------------------------

    def on_changes(self, batch: list[tuple[str, Value]]) -> None:
        """Feed spike detectors and link outages from the runtime's changes."""
        signals, online = self._signals, self._online_tags
        for name, value in batch:
            s = signals.get(name)
            if s is not None and s.spike is not None:
                ts = value.source_ts if value.source_ts is not None else value.recv_ts
                if s.spike.update(ts, _number(value)):
                    s.spike_until = self._clock() + s.check.spike_hold
                    s.spikes_seen += 1
                continue
            device = online.get(name)
            if device is not None and value.quality is Quality.GOOD:
                self._link(device, bool(value.value), value)

    def _link(self, device: str, up: bool, value: Value) -> None:
        """A device link's online flag changed: begin or end its outage.

        Followed before the records are open too (the runtime may start first), so a device
        that connected meanwhile is known to have been online.
        """
        writer = self._writer
        ts = value.source_ts if value.source_ts is not None else value.recv_ts
        if up:
            self._connected.add(device)
            self._connecting.pop(device, None)
            if writer is not None:
                writer.outage_ended(device, ts)
        elif device in self._connected:
            if writer is not None:
                writer.outage_began(device, ts)
        else:  # the first connection is still being made: an outage only after the grace
            self._connecting.setdefault(device, ts)

    # ---- records ---------------------------------------------------------------------------

    def start(self, engine: Engine, *, period: float = 60.0) -> None:
        """Record outages and data quality in `engine`'s database from now on."""
        from hmi.diagnostics.records import RecordWriter

        writer = RecordWriter(engine, period=period)
        writer.start()
        self._writer = writer

    def flush(self) -> bool:
        """Write the pending records now; False when the database refused them (kept)."""
        return self._writer.flush() if self._writer is not None else True

    def stop(self) -> None:
        """Close open outages, write what is pending, stop the writer."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.stop(self._clock())

    @property
    def records_online(self) -> bool:
        """False while the records cannot be written."""
        return self._writer is None or self._writer.online

"""Leak detection on a network segment by mass balance over a sliding window.

A segment is bounded by meters: flow in at its upstream end(s), flow out at its downstream
end(s) (substations drawing from it, the next segment's inlet). Without a leak the mean
inflow equals the mean outflow within what the meters can tell apart: each meter reads within
±u % of its reading, so the balance is uncertain by the root sum of squares of those, times a
coverage factor (k = 2, about 95 %). A leak is reported only when the windowed imbalance has
stayed above that uncertainty for `min_duration`; the report names the segment and estimates
the leak rate (the imbalance). A falling pressure on the segment over the window raises the
confidence from "medium" to "high".

Pure computation: the caller feeds samples with their times; nothing here reads tags or clocks.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["LeakFinding", "MassBalance", "SegmentDef"]

COVERAGE = 2.0  # k: the imbalance must exceed k x the combined standard uncertainty


@dataclass(frozen=True, slots=True)
class SegmentDef:
    """A network segment: its meters, their uncertainty and the detection timing."""

    name: str
    inflow: tuple[str, ...]  # flow tags into the segment
    outflow: tuple[str, ...]  # flow tags out of it
    uncertainty_pct: float = 1.0  # each meter's standard uncertainty, % of reading
    window: float = 600.0  # seconds averaged
    min_duration: float = 300.0  # seconds the imbalance must persist
    pressure: tuple[str, ...] = ()  # pressure tags on the segment (confidence)


@dataclass(frozen=True, slots=True)
class LeakFinding:
    """The state of one segment's balance at a time."""

    segment: str
    leaking: bool
    imbalance: float  # mean inflow - mean outflow over the window (flow units)
    threshold: float  # the imbalance that counts as a leak now
    since: float | None  # when the imbalance first exceeded the threshold (None: it does not)
    confidence: str  # "", "medium" or "high"


@dataclass(slots=True)
class _Window:
    samples: deque[tuple[float, float, float, float]] = field(default_factory=deque)
    sums: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])  # in, out, var


class MassBalance:
    """Tracks one segment's windowed mass balance and decides when it is a leak."""

    def __init__(self, segment: SegmentDef) -> None:
        self.segment = segment
        self._win = _Window()
        self._pressure: deque[tuple[float, float]] = deque()
        self._since: float | None = None

    def update(
        self, ts: float, flows: Mapping[str, float | None], pressure: float | None = None
    ) -> LeakFinding:
        """Add one set of meter readings (None: unknown, the sample is skipped) at `ts`."""
        seg = self.segment
        readings_in = [flows.get(tag) for tag in seg.inflow]
        readings_out = [flows.get(tag) for tag in seg.outflow]
        readings = [*readings_in, *readings_out]
        if all(r is not None and math.isfinite(r) for r in readings):
            q_in = sum(r for r in readings_in if r is not None)
            q_out = sum(r for r in readings_out if r is not None)
            u = seg.uncertainty_pct / 100.0
            var = sum((u * r) ** 2 for r in readings if r is not None)
            self._win.samples.append((ts, q_in, q_out, var))
            for i, x in enumerate((q_in, q_out, var)):
                self._win.sums[i] += x
        if pressure is not None and math.isfinite(pressure):
            self._pressure.append((ts, pressure))
        self._expire(ts)
        return self._finding(ts)

    def _expire(self, now: float) -> None:
        start = now - self.segment.window
        samples = self._win.samples
        while samples and samples[0][0] < start:
            _, q_in, q_out, var = samples.popleft()
            for i, x in enumerate((q_in, q_out, var)):
                self._win.sums[i] -= x
        while self._pressure and self._pressure[0][0] < start:
            self._pressure.popleft()

    def _finding(self, now: float) -> LeakFinding:
        seg = self.segment
        n = len(self._win.samples)
        if n == 0:
            self._since = None
            return LeakFinding(seg.name, False, math.nan, math.nan, None, "")
        q_in, q_out, var = (s / n for s in self._win.sums)
        imbalance = q_in - q_out
        # the uncertainty of a mean over n readings with fully correlated meter errors (a
        # calibration offset does not average out): the single-reading uncertainty
        threshold = COVERAGE * math.sqrt(max(var, 0.0))
        if imbalance > threshold and self._covers_window(now):
            if self._since is None:
                self._since = now
        else:
            self._since = None
        leaking = self._since is not None and now - self._since >= seg.min_duration
        confidence = ""
        if leaking:
            confidence = "high" if self._pressure_falling() else "medium"
        return LeakFinding(seg.name, leaking, imbalance, threshold, self._since, confidence)

    def _covers_window(self, now: float) -> bool:
        """True when the samples span most of the window (a mean of a few is not trusted)."""
        first = self._win.samples[0][0]
        return now - first >= 0.5 * self.segment.window

    def _pressure_falling(self) -> bool:
        """True when the least-squares slope of the segment's pressure is negative beyond noise."""
        points: Sequence[tuple[float, float]] = self._pressure
        if len(points) < 3:
            return False
        t0 = points[0][0]
        xs = [t - t0 for t, _ in points]
        ys = [p for _, p in points]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        sxx = sum((x - mx) ** 2 for x in xs)
        if sxx == 0:
            return False
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
        resid = [y - (my + slope * (x - mx)) for x, y in zip(xs, ys, strict=True)]
        se = math.sqrt(sum(r * r for r in resid) / max(len(xs) - 2, 1) / sxx)
        return slope < -2 * se

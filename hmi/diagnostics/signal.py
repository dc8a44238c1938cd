"""Data-quality checks of one sensor's signal: frozen value and spike.

- Frozen: the value has not moved more than `noise` from where it stood for `after` seconds
  while the plant runs (a live sensor always shows some noise; a frozen transmitter or a
  stuck communication gateway repeats the last value). Not judged while the plant is stopped.
- Spike: a jump faster than the physical rate limit that comes back: from a settled value the
  signal moves by more than `max_rate` x dt and returns to within `tolerance` of the settled
  value within `within` seconds. A fast move that stays is a step (a real change), not a spike.

Pure computation over (time, value) samples; the caller owns clocks and tags.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["FrozenDetector", "SpikeDetector"]


@dataclass(slots=True)
class FrozenDetector:
    """Says when a signal stopped moving beyond its noise for `after` seconds."""

    noise: float
    after: float
    _ref: float | None = None
    _since: float | None = None

    def update(self, ts: float, value: float | None, running: bool = True) -> bool:
        """Add a sample; True while the value is frozen."""
        if value is None or not math.isfinite(value) or not running:
            self._ref = self._since = None  # bad values and a stopped plant restart the watch
            return False
        if self._ref is None or self._since is None or abs(value - self._ref) > self.noise:
            self._ref, self._since = value, ts
            return False
        return ts - self._since >= self.after


@dataclass(slots=True)
class SpikeDetector:
    """Counts spikes: jumps beyond a physical rate limit that return to the settled value."""

    max_rate: float  # units per second the process can really move
    within: float = 10.0  # seconds a spike may last
    tolerance: float | None = None  # how close "returned" is; default: a tenth of the jump
    spikes: int = 0
    _last: tuple[float, float] | None = None
    _excursion: tuple[float, float, float] | None = None  # start ts, settled value, jump

    def update(self, ts: float, value: float | None) -> bool:
        """Add a sample; True when it completes a spike."""
        if value is None or not math.isfinite(value):
            return False
        last, self._last = self._last, (ts, value)
        if self._excursion is not None:
            start, settled, jump = self._excursion
            if ts - start > self.within:
                # it stayed longer than a spike lasts (a value that holds sends no samples):
                # a step, whatever this sample does
                self._excursion = None
            else:
                tol = self.tolerance if self.tolerance is not None else abs(jump) / 10
                if abs(value - settled) <= tol:
                    self._excursion = None
                    self.spikes += 1
                    return True
                return False
        if last is None:
            return False
        dt = ts - last[0]
        jump = value - last[1]
        if dt > 0 and abs(jump) > self.max_rate * dt:
            self._excursion = (last[0], last[1], jump)
        return False

"""A bounded, time-ordered buffer of one pen's live samples (numpy; no Qt).

Bad samples are stored as NaN so a curve drawn with `connect="finite"` shows a gap there,
never a plausible number. The newest `capacity` samples are kept; appending is amortised
O(1) and reading gives contiguous views without copying.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["RingBuffer"]

FloatArray = npt.NDArray[np.float64]


class RingBuffer:
    """The newest `capacity` (time, value) samples of one pen, in time order."""

    def __init__(self, capacity: int = 20_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        # twice the capacity: when the end is reached the newest half moves to the front once
        self._t = np.empty(2 * capacity, dtype=np.float64)
        self._v = np.empty(2 * capacity, dtype=np.float64)
        self._start = 0
        self._end = 0

    def __len__(self) -> int:
        return self._end - self._start

    @property
    def times(self) -> FloatArray:
        """Sample times (epoch seconds), oldest first; a view, valid until the next append."""
        return self._t[self._start : self._end]

    @property
    def values(self) -> FloatArray:
        """Sample values (NaN where the quality was not good); a view like `times`."""
        return self._v[self._start : self._end]

    def last_time(self) -> float | None:
        """The newest sample's time, or None when empty."""
        return float(self._t[self._end - 1]) if self._end > self._start else None

    def append(self, ts: float, value: float) -> bool:
        """Add a sample; False (dropped) when older than the newest one already held."""
        last = self.last_time()
        if last is not None and ts < last:
            return False
        if self._end == len(self._t):
            self._compact(self.capacity - 1)
        self._t[self._end] = ts
        self._v[self._end] = value
        self._end += 1
        if self._end - self._start > self.capacity:
            self._start += 1
        return True

    def extend(self, times: npt.ArrayLike, values: npt.ArrayLike) -> None:
        """Add many samples in time order (the newest `capacity` are kept)."""
        t = np.asarray(times, dtype=np.float64)
        v = np.asarray(values, dtype=np.float64)
        if t.shape != v.shape or t.ndim != 1:
            raise ValueError("times and values must be 1-D arrays of equal length")
        if len(t) and (np.any(np.diff(t) < 0) or (len(self) and t[0] < self._t[self._end - 1])):
            raise ValueError("samples must be in time order and newer than those held")
        t, v = t[-self.capacity :], v[-self.capacity :]
        keep = min(len(self), self.capacity - len(t))
        self._compact(keep)
        n = len(t)
        self._t[self._end : self._end + n] = t
        self._v[self._end : self._end + n] = v
        self._end += n

    def _compact(self, keep: int) -> None:
        """Move the newest `keep` samples to the front."""
        keep = max(0, min(keep, len(self)))
        lo = self._end - keep
        self._t[:keep] = self._t[lo : self._end]
        self._v[:keep] = self._v[lo : self._end]
        self._start, self._end = 0, keep

    def at_or_before(self, ts: float) -> tuple[float, float] | None:
        """The newest sample at or before `ts` (its value may be NaN: bad), or None."""
        i = int(np.searchsorted(self.times, ts, side="right")) - 1
        if i < 0:
            return None
        return float(self.times[i]), float(self.values[i])

    def between(self, lo: float, hi: float) -> tuple[FloatArray, FloatArray]:
        """The samples with lo <= t <= hi (views)."""
        t = self.times
        a = int(np.searchsorted(t, lo, side="left"))
        b = int(np.searchsorted(t, hi, side="right"))
        return t[a:b], self.values[a:b]

    def clear(self) -> None:
        """Forget every sample."""
        self._start = self._end = 0

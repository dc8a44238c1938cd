"""What a pen shows at the cursor time: the bucket containing it (avg, min, max), else the live
sample at or before it; never a number for a bad sample. Between buckets (a steady value is
recorded only at its heartbeat) the historian's last sample before the time decides: `held`."""

from __future__ import annotations

import math

from hmi.tags import Quality
from screens.i18n import tr
from screens.trends.legend import Reading
from screens.trends.pens import MAX_HOLD, Pen

__all__ = ["held", "reading_at"]

STALE = 3600.0  # a last sample older than this (the longest heartbeat) is no current value


def reading_at(pen: Pen, ts: float) -> Reading | None:
    """The read-out of `pen` at time `ts` (epoch seconds); None: ask the historian (`held`)."""
    b = pen.buckets
    if b is not None and len(b):
        i = b.containing(ts)
        if i is not None:
            t = b.trend
            return Reading(pen.format(t.avg[i]), pen.format(t.min[i]), pen.format(t.max[i]))
    live = pen.live
    first = live.times[0] if len(live) else math.inf
    if ts >= first:
        sample = live.at_or_before(ts)
        if sample is not None and ts - sample[0] <= MAX_HOLD:
            if math.isnan(sample[1]):
                return Reading(tr("BAD"), bad=True)
            return Reading(pen.format(sample[1]))
    if b is not None and len(b) and b.start <= ts < b.end:
        return None
    return Reading(tr("no data"))


def held(pen: Pen, ts: float, sample: tuple[float, float | None, Quality] | None) -> Reading:
    """The read-out from the historian's last sample before `ts` (held until the next one)."""
    if sample is None or ts - sample[0] > STALE:
        return Reading(tr("no data"))
    _, value, quality = sample
    if quality is not Quality.GOOD or value is None:
        return Reading(tr("BAD"), bad=True)
    return Reading(pen.format(value))

"""Fault early-warning: frozen and spiking sensors, and leaks found by mass balance."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hmi.diagnostics.leak import MassBalance, SegmentDef
from hmi.diagnostics.signal import FrozenDetector, SpikeDetector


def test_a_frozen_signal_is_found_after_its_time_and_only_while_running() -> None:
    rng = np.random.default_rng(3)
    d = FrozenDetector(noise=0.05, after=60)
    live = [d.update(t, 70 + rng.normal(0, 0.2), True) for t in range(0, 300, 5)]
    assert not any(live)  # a live sensor moves beyond its noise
    frozen = [d.update(t, 71.0, True) for t in range(300, 400, 5)]
    assert frozen.index(True) == 12  # 60 s after the value stuck at 71.0 (t = 300)
    assert not d.update(400, 71.0, running=False)  # plant stopped: not judged
    assert not d.update(405, 71.0, True)  # the watch starts again
    assert d.update(465, 71.0, True)
    assert not d.update(470, None, True)  # a bad value is not a frozen one


def test_spikes_are_counted_and_steps_are_not() -> None:
    d = SpikeDetector(max_rate=0.5, within=10)  # a temperature moves at most 0.5 K/s
    series = [(0, 70.0), (1, 70.1), (2, 95.0), (3, 70.2), (4, 70.1)]  # a spike
    series += [(5, 70.0), (6, 85.0), (7, 85.1), (20, 85.0), (21, 85.2)]  # a step: it stays
    series += [(30, 85.0), (31, 60.0), (33, 84.9)]  # a downward spike of two samples
    seen = [t for t, v in series if d.update(t, v)]
    assert seen == [3, 33]
    assert d.spikes == 2
    assert not d.update(34, math.nan)


def test_a_value_that_jumps_and_holds_is_a_step_even_when_it_comes_back_later() -> None:
    """A held value sends no samples: its late return must not count as a spike."""
    d = SpikeDetector(max_rate=2.0, within=10)
    assert not d.update(0, 50.0)
    assert not d.update(1, 120.0)  # a stuck transmitter at a failure value
    assert not d.update(100, 50.2)  # repaired long after: not a spike
    assert d.spikes == 0


def _balance(leak_at: float | None, leak_rate: float, seconds: int = 3600) -> list:
    seg = SegmentDef(
        "N1",
        inflow=("HS1.FT101",),
        outflow=("SS1.FT201", "SS2.FT201", "N2.FT001"),
        uncertainty_pct=0.5,
        window=600,
        min_duration=300,
    )
    mb = MassBalance(seg)
    rng = np.random.default_rng(11)
    out = []
    for t in range(0, seconds, 10):
        leak = leak_rate if leak_at is not None and t >= leak_at else 0.0
        ss1, ss2, n2 = 12 + rng.normal(0, 0.05), 9 + rng.normal(0, 0.05), 30 + rng.normal(0, 0.1)
        source = ss1 + ss2 + n2 + leak + rng.normal(0, 0.1)
        pressure = 3.0 - (0.0005 * (t - leak_at) if leak_at is not None and t >= leak_at else 0.0)
        flows = {"HS1.FT101": source, "SS1.FT201": ss1, "SS2.FT201": ss2, "N2.FT001": n2}
        out.append(mb.update(float(t), flows, pressure + rng.normal(0, 0.002)))
    return out


def test_no_leak_without_one_and_meter_noise_stays_below_the_threshold() -> None:
    findings = _balance(None, 0.0)
    assert not any(f.leaking for f in findings)
    assert max(f.imbalance for f in findings[60:]) < findings[-1].threshold


def test_a_leak_is_found_after_the_minimum_duration_with_its_rate_and_segment() -> None:
    findings = _balance(leak_at=1200, leak_rate=2.5)
    first = next(i for i, f in enumerate(findings) if f.leaking)
    found_at = first * 10
    assert 1200 + 300 <= found_at <= 1200 + 600 + 300  # the window fills, then min_duration
    last = findings[-1]
    assert last.segment == "N1" and last.leaking
    assert last.imbalance == pytest.approx(2.5, abs=0.2)  # estimated leak rate
    assert last.confidence == "high"  # the segment's pressure falls


def test_a_leak_smaller_than_the_meters_can_tell_is_not_reported() -> None:
    findings = _balance(leak_at=600, leak_rate=0.2)
    assert not any(f.leaking for f in findings)


def test_unknown_readings_are_skipped() -> None:
    mb = MassBalance(SegmentDef("N2", ("A",), ("B",), window=60, min_duration=0))
    f = mb.update(0.0, {"A": 10.0, "B": None})
    assert math.isnan(f.imbalance) and not f.leaking

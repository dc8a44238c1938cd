"""float32 values are handed over as the shortest decimal that keeps their bits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from drivers.floats import float32_decimal


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        (65.3, 65.3),
        (-0.1, -0.1),
        (1e-7, 1e-7),
        (3.4e38, 3.4e38),
        (16777217.0, 16777216.0),
        (2.0**40, 2.0**40),
    ],
)
def test_known_values(sent: float, expected: float) -> None:
    widened = float(np.float32(sent))
    assert widened != sent or sent == expected  # 65.3f widens to 65.30000305175781
    assert float32_decimal(widened) == expected


def test_keeps_every_bit_of_random_float32() -> None:
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2**32, 20_000, dtype=np.uint64).astype(np.uint32)
    values = bits.view(np.float32)
    for f in values[np.isfinite(values)]:
        out = float32_decimal(float(f))
        assert np.float32(out) == f or (math.isnan(out) and math.isnan(f))
        assert len(repr(out).replace("-", "")) <= len(repr(float(f)).replace("-", ""))


def test_special_values_pass_through() -> None:
    assert math.isnan(float32_decimal(math.nan))
    assert float32_decimal(math.inf) == math.inf
    assert float32_decimal(-0.0) == 0.0 and math.copysign(1, float32_decimal(-0.0)) == -1

"""Numbers that arrive as IEEE float32 (Modbus float32, OPC UA Float, Sparkplug Float).

A float32 such as 65.3f widens to the double 65.30000305175781; the device meant 65.3. Drivers
hand over the shortest decimal that reads back as the same float32, so values show as the
device shows them and the historian stores decimals, which DuckDB's ALP compression packs
several times tighter than widened float32 noise. No information is lost: converting the
result back to float32 gives the original bits.
"""

from __future__ import annotations

import math
import struct

__all__ = ["float32_decimal"]

_F32 = struct.Struct("<f")


def float32_decimal(value: float) -> float:
    """The shortest decimal that rounds to the float32 of `value` (whole numbers unchanged)."""
    if not math.isfinite(value) or value == 0.0:
        return value
    target: float = _F32.unpack(_F32.pack(value))[0]
    if target.is_integer() and abs(target) < 2.0**53:
        return float(target)  # whole numbers (counters, 2**40) stay exact
    for digits in range(6, 10):  # 9 significant digits always identify a float32
        candidate = float(f"{target:.{digits}g}")
        if _F32.unpack(_F32.pack(candidate))[0] == target:
            return candidate
    return target

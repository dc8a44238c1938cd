"""Gas properties and town demand for the gas gate station model: Z, density, demand profile.

Pure functions and constants, no state. Pressures MPa absolute, temperatures K, volumes at base
conditions (0 °C, 101.325 kPa). Compressibility from the Papay (1968) correlation with the
pseudo-critical point of a lean natural gas (relative density 0.58, Sutton: 4.69 MPa, 193 K).
"""

from __future__ import annotations

import math

P_ATM = 0.101325  # MPa, also the base pressure
T_BASE = 273.15  # K (0 °C): Nm³
P_PC, T_PC = 4.69, 193.0  # pseudo-critical pressure (MPa abs) and temperature (K)
RHO_BASE = 0.73  # kg/Nm³ of the gas
CP_GAS = 2.2  # kJ/(kg·K)
CHOKED_RATIO = 0.53  # critical pressure ratio of the regulator valves


def compressibility(p_abs: float, t_kelvin: float) -> float:
    """Z of the station's natural gas at `p_abs` MPa and `t_kelvin` K (Papay correlation)."""
    pr, tr = p_abs / P_PC, t_kelvin / T_PC
    return 1.0 - 3.52 * pr * math.exp(-2.260 * tr) + 0.274 * pr * pr * math.exp(-1.878 * tr)


Z_BASE = compressibility(P_ATM, T_BASE)


def _raw_shape(hour: float) -> float:
    def bump(centre: float, width: float) -> float:
        d = (hour - centre + 12.0) % 24.0 - 12.0
        return math.exp(-((d / width) ** 2))

    return 0.6 + 0.45 * bump(8.0, 2.0) + 0.55 * bump(19.5, 2.5)


_SHAPE_MEAN = sum(_raw_shape(h / 10.0) for h in range(240)) / 240.0


def demand_shape(hour: float) -> float:
    """Town gas demand relative to its daily mean: low at night, peaks at 08:00 and 19:30."""
    return _raw_shape(hour) / _SHAPE_MEAN


def choke(ratio: float) -> float:
    """Flow of a valve relative to choked flow at outlet/inlet absolute pressure `ratio`."""
    if ratio <= CHOKED_RATIO:
        return 1.0
    x = (ratio - CHOKED_RATIO) / (1.0 - CHOKED_RATIO)
    return math.sqrt(max(0.0, 1.0 - x * x))

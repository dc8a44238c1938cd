"""The heat source of the heating simulator: boiler house HS1.

Owns the burner (weather-compensated supply temperature, closed loop on the boiler water, limited
by the maximum burner power), the main circulation pump's curve and setpoint, and the plant's
heat counter. Units: °C, bar (gauge), kg/s, kW, kWh, s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from drivers.sim.network import CP, PumpCurve
from drivers.sim.registers import SOURCE


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """The boiler house: burner, supply curve, main pump and pressurisation."""

    name: str = SOURCE
    max_power_mw: float = 9.0
    boiler_water_kg: float = 20000.0
    curve: tuple[float, float, float, float] = (10.0, 70.0, -20.0, 120.0)  # t_out, t_sup pairs
    dp_setpoint: float = 3.5  # bar
    static_pressure: float = 3.0  # bar, return pressure held by the pressurisation
    pressure_droop: float = 0.35  # bar of static pressure lost per kg/s of leak
    pump_head_bar: float = 8.0  # at zero flow and full speed
    pump_flow_max: float = 120.0  # kg/s at zero head and full speed
    makeup_temp: float = 10.0  # °C
    energy_kwh: float = 48_211_500.0  # counter reading at start


class HeatSource:
    """State of the boiler house; attribute names are the register map's `attr`."""

    TAU = 300.0  # s, closed-loop time constant of the supply temperature

    def __init__(self, config: SourceConfig, t_out: float) -> None:
        self.config = config
        self.max_kw = config.max_power_mw * 1000.0
        self.boiler_kj_per_k = config.boiler_water_kg * CP
        # commands
        self.pump_cmd = True
        self.weather_comp = True
        self.setpoint = 95.0
        self.dp_setpoint = config.dp_setpoint
        # states and measurements
        self.t_outdoor = t_out
        self.setpoint_active = self.curve(t_out)
        self.t_supply = self.setpoint_active
        self.t_return = 50.0
        self.p_static = config.static_pressure
        self.p_supply = self.p_return = self.dp = 0.0
        self.flow = self.makeup_flow = 0.0
        self.flow_node_a = 0.0  # into N2, metered at node A (segment balances)
        self.power_kw = self.fire_kw = 0.0
        self.pump_speed = 0.0
        self.pump_running = True
        self.power_limited = False
        self.pressure_low = False
        self.energy_kwh = config.energy_kwh
        self.pump_curve = PumpCurve(config.dp_setpoint, config.pump_head_bar, config.pump_flow_max)

    def curve(self, t_out: float) -> float:
        """Weather-compensated supply setpoint °C for outdoor temperature `t_out`."""
        warm, low, cold, high = self.config.curve
        frac = min(max((warm - t_out) / (warm - cold), 0.0), 1.0)
        return low + (high - low) * frac

    def step(self, t_return: float, leak: float, dt: float) -> None:
        """Burner control and boiler water over `dt` s given the network return and leak."""
        self.t_return = t_return
        m = self.flow
        sp = self.setpoint_active
        t_in = (
            t_return
            if m <= leak or m <= 0.0
            else (((m - leak) * t_return + leak * self.config.makeup_temp) / m)
        )
        if self.pump_running and m > 0.1:
            demand = m * CP * (sp - t_in) + self.boiler_kj_per_k * (sp - self.t_supply) / self.TAU
            self.fire_kw = min(max(demand, 0.0), self.max_kw)
            self.power_limited = demand > self.max_kw
        else:
            self.fire_kw = 0.0
            self.power_limited = False
        if m > 1e-6:
            a = m * CP
            eq = t_in + self.fire_kw / a
            self.t_supply = eq + (self.t_supply - eq) * math.exp(-a * dt / self.boiler_kj_per_k)
        self.power_kw = m * CP * (self.t_supply - t_in)
        if self.power_kw > 0.0:
            self.energy_kwh += self.power_kw * dt / 3600.0

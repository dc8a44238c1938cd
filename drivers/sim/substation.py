"""A heat-exchange substation of the heating simulator: valve, PLC loop, exchanger, building, meter.

Owns everything behind one substation's primary connection: the control valve (equal-percentage,
Kvs, stroke time), the local PLC (PI control of the secondary supply temperature in AUTO, the
position command in MANUAL, pump interlock), the secondary pump, the plate heat exchanger
(ε-NTU, counterflow), the secondary loop and building with thermal lag, and the heat meter.
Units: °C, bar (gauge), kg/s, kW, kWh, m³, %, s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from drivers.sim.network import CP, density

T_OUT_DESIGN = -20.0  # °C, design outdoor temperature
T_ROOM_DESIGN = 20.0  # °C
SECONDARY_DESIGN = (75.0, 50.0)  # secondary supply/return at design, °C
RADIATOR_EXPONENT = 1.3
_KV_TO_KG_S = math.sqrt(1000.0 * density(60.0)) / 3600.0  # kg/s per (m³/h at 1 bar) at √bar


def heating_curve(t_out: float, low: float = 45.0, high: float = 75.0) -> float:
    """Secondary supply setpoint °C: `low` at +10 °C outdoor to `high` at −20 °C, clamped."""
    frac = (10.0 - t_out) / (10.0 - T_OUT_DESIGN)
    return low + (high - low) * min(max(frac, 0.0), 1.0)


def equal_percentage(position: float, rangeability: float) -> float:
    """Relative Kv of an equal-percentage valve at `position` % (modified to close tight)."""
    x = min(max(position, 0.0), 100.0) / 100.0
    inv = 1.0 / rangeability
    return (math.pow(rangeability, x - 1.0) - inv) / (1.0 - inv)


def dhw_profile(hour: float) -> float:
    """Domestic hot water demand relative to its daily mean (peaks at 07:30 and 19:30)."""
    shape = math.exp(-(((hour - 7.5) / 1.2) ** 2)) + 0.8 * math.exp(-(((hour - 19.5) / 1.8) ** 2))
    return (0.15 + 0.85 * shape) / 0.316


def gains_profile(hour: float) -> float:
    """Internal and solar gains relative to their mean (low at night, highest at 16:00)."""
    return 0.6 + 0.8 * (0.5 - 0.5 * math.cos(2 * math.pi * (hour - 4.0) / 24.0))


@dataclass(frozen=True, slots=True)
class SubstationConfig:
    """Size and hydraulics of one substation."""

    name: str
    node: str  # network node it is connected to
    design_kw: float  # heat load (space heating + hot water) at the design outdoor temperature
    kvs: float  # control valve Kvs, m³/h at 1 bar
    kv_fixed: float  # exchanger and station piping as a fixed Kv in series, m³/h at 1 bar
    elevation_m: float = 0.0  # above the heat source
    dhw_share: float = 0.12  # mean hot-water load as a share of design_kw
    energy_kwh: float = 0.0  # heat meter energy reading at start
    volume_m3: float = 0.0  # heat meter volume reading at start
    rangeability: float = 50.0
    stroke_s: float = 60.0  # valve full stroke time
    curve: tuple[float, float] = (45.0, 75.0)  # secondary setpoint at +10 °C and −20 °C outdoor
    building_tau_h: float = 50.0  # building thermal time constant
    description: str = ""


@dataclass(slots=True)
class HeatMeter:
    """The primary-side heat meter (flow sensor and temperature pair; counters only increase)."""

    power_kw: float = 0.0
    flow: float = 0.0
    t_supply: float = 0.0
    t_return: float = 0.0
    energy_kwh: float = 0.0
    volume_m3: float = 0.0

    def integrate(self, dt: float) -> None:
        """Add `dt` seconds of the current power and flow to the counters."""
        if self.power_kw > 0.0:
            self.energy_kwh += self.power_kw * dt / 3600.0
        if self.flow > 0.0:
            self.volume_m3 += self.flow / density(self.t_return) * dt


class Substation:
    """State and dynamics of one substation; attribute names are the register map's `attr`."""

    KP = 2.0  # %/K
    TI = 120.0  # s
    TAU_SUPPLY = 40.0  # s, exchanger and pipe lag of the secondary supply
    TAU_COOL = 1800.0  # s, stagnant secondary water cooling toward the room

    def __init__(self, config: SubstationConfig, t_out: float, t1_supply: float) -> None:
        self.config = config
        self.name = config.name
        d = config.design_kw
        space = d * (1.0 - config.dhw_share)
        dt_rad = (sum(SECONDARY_DESIGN) / 2) - T_ROOM_DESIGN
        self.ua_building = space / (T_ROOM_DESIGN - T_OUT_DESIGN)  # kW/K
        self.c_building = self.ua_building * config.building_tau_h * 3600.0  # kJ/K
        self.ua_radiator = space / dt_rad**RADIATOR_EXPONENT
        self.ua_exchanger = d / 20.0  # kW/K
        self.loop_kj_per_k = 12.0 * d * CP  # 12 l of water per kW in the secondary loop
        self.flow2_max = d / (CP * (SECONDARY_DESIGN[0] - SECONDARY_DESIGN[1])) / 0.8
        self.dhw_mean_kw = d * config.dhw_share
        self.gains_mean_kw = 0.04 * space
        # commands (holding registers and coils)
        self.auto = True
        self.weather_comp = True
        self.setpoint = 60.0
        self.valve_cmd = 40.0
        self.pump_cmd = True
        self.pump_speed_sp = 80.0
        # states and measurements
        self.setpoint_active = heating_curve(t_out, *config.curve)
        load = (T_ROOM_DESIGN - t_out) / (T_ROOM_DESIGN - T_OUT_DESIGN)
        self.t_room = 20.5
        self.t2_supply = self.setpoint_active
        self.t2_return = self.setpoint_active - 25.0 * max(load, 0.1)
        self.t1_supply = t1_supply
        self.t1_return = self.t2_return + 5.0
        self.p1_supply = self.p1_return = 0.0
        self.flow1 = 0.0
        self.valve_pos = self.valve_cmd
        self.valve_fault = False
        self.pump_speed = self.pump_speed_sp
        self.flow2 = self.flow2_max * self.pump_speed / 100.0
        self.p2_supply = 2.0 + 1.8 * (self.pump_speed / 100.0) ** 2
        self.pump_running = True
        self.power_kw = 0.0
        self.stuck = False
        self.meter = HeatMeter(
            energy_kwh=config.energy_kwh,
            volume_m3=config.volume_m3,
            t_supply=t1_supply,
            t_return=self.t1_return,
        )
        self._integral = self.valve_cmd
        self._deviation_s = 0.0
        self._stroke_rate = 100.0 / config.stroke_s
        self._inv_kv_fixed_sq = 1.0 / (config.kv_fixed * config.kv_fixed)
        self._dt = 0.0
        self._k = (0.0, 0.0, 0.0, 0.0)

    def _factors(self, dt: float) -> tuple[float, float, float, float]:
        if dt != self._dt:
            self._dt = dt
            self._k = (
                math.exp(-dt / self.TAU_SUPPLY),
                math.exp(-dt / self.TAU_COOL),
                1.0 - math.exp(-dt / 900.0),
                self.KP * dt / self.TI,
            )
        return self._k

    def conductance(self) -> float:
        """Hydraulic conductance of valve + exchanger: flow kg/s = conductance·√(Δp bar)."""
        cfg = self.config
        kv = cfg.kvs * equal_percentage(self.valve_pos, cfg.rangeability)
        if kv <= 0.0:
            return 0.0
        kv_eff = 1.0 / math.sqrt(1.0 / (kv * kv) + self._inv_kv_fixed_sq)
        return kv_eff * _KV_TO_KG_S

    def control(self, t_out: float, dt: float) -> None:
        """One PLC scan: setpoint, PI loop or manual command, valve and pump actuators."""
        sp = self.setpoint_active = (
            heating_curve(t_out, *self.config.curve) if self.weather_comp else self.setpoint
        )
        running = self.pump_running = self.pump_cmd
        error = sp - self.t2_supply
        if self.auto:
            if not running:  # interlock: no secondary flow, close the valve
                self._integral = 0.0
                self.valve_cmd = 0.0
            else:
                p = self.KP * error
                integral = self._integral + self._factors(dt)[3] * error
                unsat = p + integral
                if not ((unsat > 100.0 and error > 0.0) or (unsat < 0.0 and error < 0.0)):
                    self._integral = min(max(integral, 0.0), 100.0)  # conditional integration
                out = p + self._integral
                self.valve_cmd = 0.0 if out < 0.0 else 100.0 if out > 100.0 else out
        else:
            self._integral = self.valve_cmd - self.KP * error  # bumpless return to AUTO
        move = self.valve_cmd - self.valve_pos
        if not self.stuck:
            rate = self._stroke_rate * dt
            self.valve_pos += rate if move > rate else -rate if move < -rate else move
            move = self.valve_cmd - self.valve_pos
        if move > 5.0 or move < -5.0:
            self._deviation_s += dt
            self.valve_fault = self._deviation_s > 60.0
        else:
            self._deviation_s = 0.0
            self.valve_fault = False
        target = self.pump_speed_sp if running else 0.0
        if self.pump_speed != target:
            ramp = 10.0 * dt
            diff = target - self.pump_speed
            self.pump_speed += ramp if diff > ramp else -ramp if diff < -ramp else diff
            self.flow2 = self.flow2_max * self.pump_speed / 100.0
            self.p2_supply = 2.0 + 1.8 * (self.pump_speed / 100.0) ** 2

    def step_thermal(self, t1_in: float, t_out: float, dhw: float, gains: float, dt: float) -> None:
        """Exchanger, secondary loop, building and meter over `dt` s with primary inlet `t1_in`.

        `dhw` and `gains` scale the hot-water demand and internal gains (1.0 = daily mean).
        """
        k_supply, k_cool, k_stagnant, _ = self._factors(dt)
        self.t1_supply = t1_in
        c1 = self.flow1 * CP
        c2 = self.flow2 * CP
        t2r = self.t2_return
        if c1 > 1e-6 and c2 > 1e-6:
            cmin, cmax = (c1, c2) if c1 < c2 else (c2, c1)
            cr = cmin / cmax
            ntu = self.ua_exchanger / cmin
            if cr < 0.999:
                e = math.exp(-ntu * (1.0 - cr))
                eps = (1.0 - e) / (1.0 - cr * e)
            else:
                eps = ntu / (1.0 + ntu)
            q = eps * cmin * (t1_in - t2r)
            self.t1_return = t1_in - q / c1
            t_hx_out = t2r + q / c2
        else:
            q = 0.0
            if c1 > 1e-6:  # primary flows through, nothing to heat
                self.t1_return = t1_in
            else:  # stagnant: the return sensor cools toward the secondary return
                self.t1_return += (t2r - self.t1_return) * k_stagnant
            t_hx_out = self.t2_supply
        self.power_kw = q
        room = self.t_room
        if c2 > 1e-6:
            t2s = self.t2_supply = t_hx_out + (self.t2_supply - t_hx_out) * k_supply
            over = 0.5 * (t2s + t2r) - room
        else:
            t2s = self.t2_supply = room + (self.t2_supply - room) * k_cool
            over = t2r - room
        q_emit = self.ua_radiator * over**RADIATOR_EXPONENT if over > 0.0 else 0.0
        hot = (t2r - 25.0) / 20.0
        q_dhw = self.dhw_mean_kw * dhw * (0.0 if hot < 0.0 else min(hot, 1.0))
        q_in = c2 * (t2s - t2r)
        self.t2_return = t2r + (q_in - q_emit - q_dhw) * dt / self.loop_kj_per_k
        q_gains = self.gains_mean_kw * gains
        self.t_room = room + (q_emit + q_gains - self.ua_building * (room - t_out)) * dt / (
            self.c_building
        )
        meter = self.meter
        meter.power_kw = q
        meter.flow = self.flow1
        meter.t_supply = t1_in
        meter.t_return = self.t1_return
        meter.integrate(dt)

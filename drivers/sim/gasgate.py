"""The gas gate station GS1: inlet, filter, preheater, meter, two regulator runs, odorizer, ESV.

Gas from a transmission line (~4.0 MPa) passes the inlet emergency shut-off valve (ESV), a filter,
an ultrasonic meter with its flow computer and a water-bath preheater, then one of two
pressure-regulator runs (A on duty, B on standby 0.025 MPa lower; each behind a slam-shut valve)
into a distribution network at ~0.4 MPa, odorised with THT in proportion to the metered flow.
Plain Python, no I/O; deterministic for a given seed and sequence of `step` calls; sub-steps of
at most 5 s keep it stable at any speed (3600 included).

Units: pressures MPa gauge (filter differential pressure kPa), °C, flows m³/h at line
conditions or Nm³/h at base conditions (0 °C, 101.325 kPa abs), volumes m³ / Nm³, heat kW,
odorant g/h, mg/Nm³ and litres, valve openings %.

Compressibility: the Papay (1968) correlation,
Z = 1 − 3.52·pr·e^(−2.260·Tr) + 0.274·pr²·e^(−1.878·Tr), with the pseudo-critical point of a
lean natural gas (relative density 0.58: 4.69 MPa, 193 K, Sutton). Within about 1–2 % of
AGA8 here (Z ≈ 0.90 at 4 MPa and 8 °C); a demo, not custody transfer.
Base flow = actual flow · (p/p_base) · (T_base/T) · (Z_base/Z).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from drivers.sim.gasgate_faults import FilterClogging, GasFaults, RegulatorFailure
from drivers.sim.gasgate_gas import (
    CP_GAS,
    P_ATM,
    RHO_BASE,
    T_BASE,
    Z_BASE,
    choke,
    compressibility,
    demand_shape,
)
from drivers.sim.gasgate_points import GAS_BY_NAME, GAS_POINTS
from drivers.sim.model import SteppedModel

MAX_SUBSTEP = 5.0  # s of simulated time; the fastest lag (regulator, 2 s) is integrated exactly
_MEASURED = tuple(p for p in GAS_POINTS if not p.writable)  # commands are read as they are


@dataclass(frozen=True, slots=True)
class GasGateConfig:
    """Everything that sizes the station, its supply and its demand."""

    start_hour: float = 6.0  # simulated clock at the end of the warm-up
    warmup_s: float = 3600.0
    load_profiles: bool = True  # demand follows the time of day (else flat at q_mean)
    measurement_noise: bool = True
    p_in_mean: float = 4.0  # MPa
    p_in_daily: float = 0.08  # MPa lower at the demand peaks
    p_in_noise: float = 0.03  # MPa, σ of the slow supply variation
    p_in_tau: float = 2 * 3600.0
    t_in_mean: float = 8.0  # °C, ground temperature
    t_in_noise: float = 0.8
    t_in_tau: float = 6 * 3600.0
    q_mean: float = 20000.0  # Nm³/h, daily mean demand
    demand_noise: float = 0.04  # relative σ
    demand_tau: float = 1800.0
    p_service_min: float = 0.1  # MPa: below it, demand falls in proportion
    linepack_m3: float = 5000.0  # geometric volume of the downstream network
    filter_dp_clean: float = 8.0  # kPa at q_mean and p_in_mean, clean element
    filter_clog_per_nm3: float = 5e-8  # resistance growth per Nm³ passed (normal dust load)
    filter_alarm_kpa: float = 50.0
    t_out_setpoint: float = 5.0  # °C: the preheater keeps the outlet above it
    heater_max_kw: float = 400.0
    heater_tau: float = 600.0
    jt_k_per_mpa: float = 5.0  # Joule–Thomson cooling, 0.5 K per bar
    run_capacity: float = 50000.0  # Nm³/h per run fully open at 3.9 MPa inlet
    setpoint: float = 0.40  # MPa, run A; run B is standby_offset lower
    standby_offset: float = 0.025
    prop_band: float = 0.015  # MPa from closed to fully open (droop)
    regulator_tau: float = 2.0  # s
    creep_tau: float = 300.0  # s, a regulator failed open drifts to full opening
    ssv_trip_a: float = 0.46
    ssv_trip_b: float = 0.48
    esv_trip: float = 0.50
    volume_base: float = 48_213_550.0  # Nm³ on the totaliser at start
    volume_actual: float = 1_102_447.0  # m³
    dose: float = 20.0  # mg THT per Nm³
    tank_capacity_l: float = 400.0
    tank_l: float = 248.0
    level_low_pct: float = 15.0
    odorant_kg_per_l: float = 0.997  # THT


class GasGate(SteppedModel):
    """The station: `step(dt_real)` advances it by `dt_real × speed` seconds and publishes."""

    def __init__(
        self, config: GasGateConfig | None = None, seed: int = 1, speed: float = 1.0
    ) -> None:
        self.config = cfg = config or GasGateConfig()
        self.seed = seed
        self.speed = speed
        self._rng = random.Random(seed * 31337 + 5)
        self._noise_rng = random.Random(seed * 104723 + 3)
        self.faults = GasFaults()
        self._fault_keys: set[str] = set()
        self.faults.subscribe(self._faults_changed)
        self.time = cfg.start_hour * 3600.0 - cfg.warmup_s
        self._n_pin = self._rng.gauss(0.0, cfg.p_in_noise)
        self._n_tin = self._rng.gauss(0.0, cfg.t_in_noise)
        self._n_dem = self._rng.gauss(0.0, cfg.demand_noise)
        self._k_run = cfg.run_capacity / (3.9 + P_ATM)  # Nm³/h per MPa abs, fully open
        # commands
        self.setpoint = cfg.setpoint
        self.dose_sp = cfg.dose
        self.esv_cmd = True
        # state, at a steady operating point
        self.p_in = self._p_in_now()
        self.t_in = cfg.t_in_mean + self._n_tin
        self.demand = self._demand_now(cfg.setpoint)
        self.clog = 1.0
        self.dp_filter = self._filter_dp(self.demand)
        self.filter_alarm = False
        self.p_station = self.p_in - self.dp_filter / 1000.0
        self.u_a = self.demand / (self._k_run * (self.p_station + P_ATM))
        self.u_b = 0.0
        self.p_out = cfg.setpoint - cfg.prop_band * self.u_a
        self.flow_a, self.flow_b = self.demand, 0.0
        self.ssv_a_open = self.ssv_b_open = True
        self.esv_open = True
        self.esv_tripped = False
        jt = cfg.jt_k_per_mpa * (self.p_station - self.p_out)
        self.t_heater = max(self.t_in, cfg.t_out_setpoint + jt)
        self.heater_kw = 0.0
        self.t_out = self.t_heater - jt
        self.z_meter = Z_BASE
        self.flow_actual = 0.0
        self.volume_base = cfg.volume_base
        self.volume_actual = cfg.volume_actual
        self._flow_signal = self.demand
        self.injection_g_h = 0.0
        self.tank_l = cfg.tank_l
        self.measured: dict[str, float | bool] = {}
        if cfg.warmup_s > 0:
            self._advance(cfg.warmup_s)
        self.measure()

    # ----------------------------------------------------------------- public API
    @property
    def hour(self) -> float:
        """Simulated time of day, hours 0..24."""
        return (self.time / 3600.0) % 24.0

    @property
    def flow_base(self) -> float:
        """Station flow at base conditions through the meter, Nm³/h."""
        return self.flow_a + self.flow_b

    @property
    def pos_a(self) -> float:
        """Regulator A opening, %."""
        return 100.0 * self.u_a

    @property
    def pos_b(self) -> float:
        """Regulator B opening, %."""
        return 100.0 * self.u_b

    @property
    def regulating_a(self) -> bool:
        """Run A carries flow."""
        return self.flow_a > 0.02 * self.config.run_capacity

    @property
    def regulating_b(self) -> bool:
        """Run B carries flow."""
        return self.flow_b > 0.02 * self.config.run_capacity

    @property
    def level_pct(self) -> float:
        """Odorant tank level, %."""
        return 100.0 * self.tank_l / self.config.tank_capacity_l

    @property
    def level_low(self) -> bool:
        """Odorant tank level below the low limit."""
        return self.level_pct < self.config.level_low_pct

    def true_value(self, point: str) -> float | bool:
        """The model's own value behind `point`, without noise or a frozen meter."""
        value: float | bool = getattr(self, GAS_BY_NAME[point].attr)
        return value

    def write(self, point: str, value: float | bool) -> None:
        """Apply a client's write to a command point; ValueError if not writable or out of range."""
        p = GAS_BY_NAME.get(point)
        if p is None or not p.writable:
            raise ValueError(f"{point} is not a writable point")
        if p.is_bool:
            if not isinstance(value, bool | int):
                raise ValueError(f"{point}: {value!r} is not a boolean")
            if p.attr == "esv_cmd" and value:
                self.esv_tripped = False  # an open command resets the trip
            setattr(self, p.attr, bool(value))
            return
        number = float(value)
        if (
            not math.isfinite(number)
            or (p.low is not None and number < p.low)
            or (p.high is not None and number > p.high)
        ):
            raise ValueError(f"{point}: {value} is outside {p.low}..{p.high} {p.unit}")
        setattr(self, p.attr, number)

    def measure(self) -> None:
        """Publish every measured point: model value + noise; a frozen meter holds its points."""
        noisy = self.config.measurement_noise
        gauss = self._noise_rng.gauss
        frozen = self.faults.get("meter") is not None
        published = self.measured
        for p in _MEASURED:
            if frozen and p.meter and p.name in published:
                continue
            raw = getattr(self, p.attr)
            if isinstance(raw, bool):
                published[p.name] = raw
                continue
            true = value = float(raw)
            if noisy and p.noise and not (true == 0.0 and p.low == 0.0):
                value += gauss(0.0, p.noise)
                if p.low is not None and value < p.low <= true:
                    value = p.low  # low-flow cut-off: noise never leaves the range
            published[p.name] = value

    # ----------------------------------------------------------------- model
    def _p_in_now(self) -> float:
        cfg = self.config
        shape = demand_shape(self.hour) - 1.0 if cfg.load_profiles else 0.0
        return cfg.p_in_mean - cfg.p_in_daily * shape + self._n_pin

    def _demand_now(self, p_out: float) -> float:
        cfg = self.config
        shape = demand_shape(self.hour) if cfg.load_profiles else 1.0
        service = min(1.0, max(p_out, 0.0) / cfg.p_service_min)
        return max(cfg.q_mean * shape * (1.0 + self._n_dem), 0.0) * service

    def _filter_dp(self, flow: float) -> float:
        cfg = self.config
        rel = flow / cfg.q_mean
        density = (cfg.p_in_mean + P_ATM) / (self.p_in + P_ATM)
        return cfg.filter_dp_clean * self.clog * rel * rel * density

    def _advance(self, seconds: float) -> None:
        if seconds <= 0.0:
            return
        n = max(1, math.ceil(seconds / MAX_SUBSTEP - 1e-9))
        dt = seconds / n
        cfg = self.config
        (d_pin, s_pin), (d_tin, s_tin), (d_dem, s_dem) = (
            (math.exp(-dt / tau), math.sqrt(1.0 - math.exp(-2.0 * dt / tau)) * sigma)
            for tau, sigma in (
                (cfg.p_in_tau, cfg.p_in_noise),
                (cfg.t_in_tau, cfg.t_in_noise),
                (cfg.demand_tau, cfg.demand_noise),
            )
        )
        k = {
            tau: 1.0 - math.exp(-dt / tau)
            for tau in (cfg.regulator_tau, cfg.creep_tau, 20.0, 60.0, 120.0, 3600.0, cfg.heater_tau)
        }
        failures = {f.run: f for f in self.faults.active if isinstance(f, RegulatorFailure)}
        clogging = self.faults.get("filter")
        extra_clog = clogging.rate if isinstance(clogging, FilterClogging) else 0.0
        gauss = self._rng.gauss
        for _ in range(n):
            self.time += dt
            self._n_pin = self._n_pin * d_pin + s_pin * gauss(0.0, 1.0)
            self._n_tin = self._n_tin * d_tin + s_tin * gauss(0.0, 1.0)
            self._n_dem = self._n_dem * d_dem + s_dem * gauss(0.0, 1.0)
            self._substep(dt, k, failures, extra_clog)

    def _substep(
        self,
        dt: float,
        k: dict[float, float],
        failures: dict[str, RegulatorFailure],
        extra_clog: float,
    ) -> None:
        cfg = self.config
        self.p_in = self._p_in_now()
        self.t_in = cfg.t_in_mean + self._n_tin
        self.demand = self._demand_now(self.p_out)
        # ESV: follows its command; the trip below latches it closed
        self.esv_open = self.esv_cmd
        flow_prev = self.flow_base
        if self.esv_open:
            self.dp_filter = self._filter_dp(flow_prev)
            self.p_station = self.p_in - self.dp_filter / 1000.0
        else:  # locked-in gas drains through the regulators toward the outlet
            self.dp_filter = 0.0
            self.p_station += (min(self.p_out, self.p_in) - self.p_station) * k[60.0]
        self.filter_alarm = self.dp_filter > cfg.filter_alarm_kpa
        # regulators: proportional pilots with droop and a lag; failures override them
        p_st_abs = self.p_station + P_ATM
        ratio = choke((self.p_out + P_ATM) / p_st_abs) if p_st_abs > 0 else 0.0
        flows = []
        for run, sp, u_was, ssv in (
            ("A", self.setpoint, self.u_a, self.ssv_a_open),
            ("B", self.setpoint - cfg.standby_offset, self.u_b, self.ssv_b_open),
        ):
            failure = failures.get(run)
            if failure is None:
                target = min(max((sp - self.p_out) / cfg.prop_band, 0.0), 1.0)
                gain = k[cfg.regulator_tau]
            elif failure.mode == "open":
                target, gain = 1.0, k[cfg.creep_tau]
            else:
                target, gain = 0.0, k[20.0]
            u = u_was + (target - u_was) * gain
            flows.append(u * self._k_run * p_st_abs * ratio if ssv and self.esv_open else 0.0)
            if run == "A":
                self.u_a = u
            else:
                self.u_b = u
        self.flow_a, self.flow_b = flows
        q = self.flow_base
        # the downstream network's linepack integrates supply minus demand
        t_out_abs = self.t_out + 273.15
        pack = P_ATM * t_out_abs / (T_BASE * cfg.linepack_m3)  # MPa per Nm³
        self.p_out = max(self.p_out + (q - self.demand) / 3600.0 * dt * pack, 0.0)
        # protections: run slam-shuts (staggered settings), then the station ESV
        for run, trip in (("A", cfg.ssv_trip_a), ("B", cfg.ssv_trip_b)):
            failure = failures.get(run)
            if self.p_out >= trip and not (failure is not None and failure.slam_shut_fails):
                setattr(self, f"ssv_{run.lower()}_open", False)
        if self.esv_open and self.p_out >= cfg.esv_trip:
            self.esv_tripped = True
            self.esv_cmd = self.esv_open = False
        # temperatures: preheater, then Joule–Thomson cooling across the regulators
        flowing = q > 100.0
        jt = cfg.jt_k_per_mpa * max(self.p_station - self.p_out, 0.0) if flowing else 0.0
        m_dot = q / 3600.0 * RHO_BASE
        need = max(cfg.t_out_setpoint + jt - self.t_in, 0.0)
        if m_dot > 0.0:
            need = min(need, cfg.heater_max_kw / (m_dot * CP_GAS))
        self.t_heater += (self.t_in + need - self.t_heater) * k[cfg.heater_tau]
        self.heater_kw = m_dot * CP_GAS * max(self.t_heater - self.t_in, 0.0)
        target = self.t_heater - jt if flowing else cfg.t_in_mean
        self.t_out += (target - self.t_out) * k[120.0 if flowing else 3600.0]
        # meter and flow computer
        p_abs, t_abs = self.p_station + P_ATM, self.t_in + 273.15
        self.z_meter = compressibility(p_abs, t_abs)
        self.flow_actual = q * (P_ATM / p_abs) * (t_abs / T_BASE) * (self.z_meter / Z_BASE)
        if self.faults.get("meter") is None:
            self.volume_base += q * dt / 3600.0
            self.volume_actual += self.flow_actual * dt / 3600.0
            self._flow_signal = q
        # odorizer: doses on the meter's flow signal (a frozen meter freezes the dosing too)
        self.injection_g_h = self.dose_sp * self._flow_signal / 1000.0 if self.tank_l > 0 else 0.0
        used = self.injection_g_h * dt / 3600.0 / (cfg.odorant_kg_per_l * 1000.0)
        self.tank_l = max(self.tank_l - used, 0.0)
        # filter: dust load grows with throughput; a clogging fault much faster
        self.clog += q * dt / 3600.0 * cfg.filter_clog_per_nm3
        if extra_clog:
            self.clog += extra_clog * (q / cfg.q_mean) * dt / 3600.0

    def _faults_changed(self) -> None:
        keys = {f.key for f in self.faults.active}
        removed = self._fault_keys - keys
        self._fault_keys = keys
        if "filter" in removed:
            self.clog = 1.0  # the element was replaced
        if any(key.startswith("regulator:") for key in removed):
            self.ssv_a_open = self.ssv_b_open = True  # repaired; slam-shuts reset on site

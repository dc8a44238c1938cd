"""The district-heating plant model: heat source HS1, primary network, substations SS1..SS4.

Owns the plant's layout and sizes, the simulated clock and weather (daily outdoor cycle with
slow noise), the pressurisation with make-up water, the sub-stepping that keeps the model stable
at any speed, the measurement layer (noise and sensor faults on every published point) and the
commands written by clients. The parts live in source.py, network.py and substation.py.
Plain Python, no I/O; deterministic for a given seed and sequence of `step` calls.
Units: °C, bar (gauge), kg/s, kW, kWh, m³, %, s.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from operator import attrgetter
from typing import Any

from drivers.sim.faults import Fault, Faults, Frozen, Leak, Offline, Spike, StuckValve
from drivers.sim.model import SteppedModel
from drivers.sim.network import G, Network, PipeConfig, SegmentConfig, density
from drivers.sim.registers import BY_NAME, REGISTERS, SOURCE
from drivers.sim.source import HeatSource, SourceConfig
from drivers.sim.substation import Substation, SubstationConfig, dhw_profile, gains_profile

MAX_SUBSTEP = 1.0  # s of simulated time, for every step a client can see
PRESSURE_LOW_BAR = 2.5  # PAL102 trips below this static (return) pressure at the plant
WARMUP_SUBSTEP = 5.0  # s, only for the warm-up before the plant is first published


def _default_substations() -> tuple[SubstationConfig, ...]:
    return (
        SubstationConfig(
            "SS1",
            "A",
            1200.0,
            kvs=25.0,
            kv_fixed=20.0,
            elevation_m=5.0,
            energy_kwh=1_873_402.0,
            volume_m3=61_250.0,
            building_tau_h=40.0,
            description="Residential block, 1.2 MW",
        ),
        SubstationConfig(
            "SS2",
            "A",
            2500.0,
            kvs=63.0,
            kv_fixed=50.0,
            elevation_m=-3.0,
            energy_kwh=5_204_118.0,
            volume_m3=152_870.0,
            dhw_share=0.2,
            curve=(50.0, 80.0),
            building_tau_h=70.0,
            description="Hospital, 2.5 MW",
        ),
        SubstationConfig(
            "SS3",
            "B",
            600.0,
            kvs=16.0,
            kv_fixed=12.5,
            elevation_m=12.0,
            energy_kwh=742_966.0,
            volume_m3=28_410.0,
            dhw_share=0.04,
            curve=(42.0, 70.0),
            building_tau_h=30.0,
            description="School, 0.6 MW",
        ),
        SubstationConfig(
            "SS4",
            "B",
            1800.0,
            kvs=40.0,
            kv_fixed=32.0,
            elevation_m=8.0,
            energy_kwh=3_318_555.0,
            volume_m3=101_930.0,
            dhw_share=0.15,
            building_tau_h=55.0,
            description="Housing estate, 1.8 MW",
        ),
    )


def _default_segments() -> tuple[SegmentConfig, ...]:
    return (
        SegmentConfig("N1", SOURCE, "A", PipeConfig(2000.0, 0.2101, loss_w_per_mk=0.35)),
        SegmentConfig("N2", "A", "B", PipeConfig(1500.0, 0.1603, loss_w_per_mk=0.30)),
    )


@dataclass(frozen=True, slots=True)
class PlantConfig:
    """Everything that sizes the plant and its weather."""

    start_hour: float = 6.0  # simulated clock at the end of the warm-up
    warmup_s: float = 4 * 3600.0
    outdoor_mean: float = -5.0
    outdoor_amplitude: float = 4.0  # min at 05:00, max at 15:00
    outdoor_noise: float = 0.8  # K, standard deviation of the slow weather noise
    outdoor_noise_tau: float = 3 * 3600.0  # s
    ground_temp: float = 8.0
    load_profiles: bool = True  # hot-water and internal-gain profiles over the day (else flat)
    measurement_noise: bool = True
    source: SourceConfig = field(default_factory=SourceConfig)
    segments: tuple[SegmentConfig, ...] = field(default_factory=_default_segments)
    substations: tuple[SubstationConfig, ...] = field(default_factory=_default_substations)


def daily_shape(hour: float) -> float:
    """Outdoor daily cycle: −1 at 05:00, +1 at 15:00, smooth in between."""
    h = hour % 24.0
    if 5.0 <= h <= 15.0:
        return -math.cos(math.pi * (h - 5.0) / 10.0)
    return math.cos(math.pi * ((h - 15.0) % 24.0) / 14.0)


@dataclass(frozen=True, slots=True)
class Balance:
    """Energy balance of the plant at one instant, kW."""

    source_kw: float
    substations_kw: float
    losses_kw: float

    @property
    def error_pct(self) -> float:
        """(source − substations − losses) as a percentage of the source power."""
        return 100.0 * (self.source_kw - self.substations_kw - self.losses_kw) / self.source_kw


Station = HeatSource | Substation


class Plant(SteppedModel):
    """The whole simulated plant: `step(dt_real)` advances it by `dt_real × speed` seconds."""

    def __init__(
        self, config: PlantConfig | None = None, seed: int = 1, speed: float = 1.0
    ) -> None:
        self.config = cfg = config or PlantConfig()
        self.seed = seed
        self.speed = speed
        self._weather_rng = random.Random(seed)
        self._noise_rng = random.Random(seed * 104729 + 1)
        self.time = cfg.start_hour * 3600.0 - cfg.warmup_s
        self._weather_noise = self._weather_rng.gauss(0.0, cfg.outdoor_noise)
        self.t_outdoor = self._outdoor()
        self.source = HeatSource(cfg.source, self.t_outdoor)
        consumers = {ss.name: ss.node for ss in cfg.substations}
        self.network = Network(SOURCE, cfg.segments, consumers, self.source.t_supply, 50.0)
        self.substations: dict[str, Substation] = {
            ss.name: Substation(ss, self.t_outdoor, self.source.t_supply) for ss in cfg.substations
        }
        self._stations: dict[str, Station] = {SOURCE: self.source, **self.substations}
        self._subs = [  # name, substation, node, static head of its elevation in bar
            (name, ss, ss.config.node, density(50.0) * G * ss.config.elevation_m * 1e-5)
            for name, ss in self.substations.items()
        ]
        self._conductance: dict[str, float] = dict.fromkeys(self.substations, 0.0)
        self._returns: dict[str, tuple[float, float]] = {}
        self.faults = Faults(self._validate, seed)
        self.measured: dict[str, float | bool] = {}
        self._measured_points: list[tuple[str, Callable[[], Any], float, float]] = [
            (
                reg.name,
                partial(attrgetter(reg.attr), self._stations[reg.station]),
                reg.noise,
                -math.inf if reg.low is None else reg.low,
            )
            for reg in REGISTERS
            if reg.table in ("ir", "di") and reg.station in self._stations
        ]
        if cfg.warmup_s > 0:
            self._advance(cfg.warmup_s, WARMUP_SUBSTEP)
        self.measure()

    # ----------------------------------------------------------------- public API
    @property
    def hour(self) -> float:
        """Simulated time of day, hours 0..24."""
        return (self.time / 3600.0) % 24.0

    def station(self, name: str) -> Station:
        """The heat source or substation called `name` ("HS1", "SS1", ...)."""
        return self._stations[name]

    def true_value(self, point: str) -> float | bool:
        """The model's own value behind `point`, without noise or sensor faults."""
        reg = BY_NAME[point]
        value: float | bool = attrgetter(reg.attr)(self._stations[reg.station])
        return value

    def write(self, point: str, value: float | bool) -> None:
        """Apply a client's write to a command point; ValueError if not writable or out of range."""
        reg = BY_NAME.get(point)
        if reg is None or not reg.writable:
            raise ValueError(f"{point} is not a writable point")
        target = self._stations[reg.station]
        if reg.is_bool:
            setattr(target, reg.attr, bool(value))
            return
        number = float(value)
        if (
            not math.isfinite(number)
            or (reg.low is not None and number < reg.low)
            or (reg.high is not None and number > reg.high)
        ):
            raise ValueError(f"{point}: {value} is outside {reg.low}..{reg.high} {reg.unit}")
        setattr(target, reg.attr, number)

    def balance(self) -> Balance:
        """The energy balance now: source output vs substation power plus pipe losses."""
        subs = sum(ss.power_kw for ss in self.substations.values())
        return Balance(self.source.power_kw, subs, self.network.loss_kw)

    def measure(self) -> None:
        """Publish every measured point: model value + noise, then sensor faults."""
        noisy = self.config.measurement_noise
        gauss = self._noise_rng.gauss
        faults = self.faults
        touched = faults.touched_points
        published = self.measured
        for name, getter, noise, low in self._measured_points:
            raw = getter()
            if raw.__class__ is bool:
                value: float | bool = raw
            else:
                true = value = float(raw)
                if noisy and noise:
                    value += gauss(0.0, noise)
                    if value < low <= true:
                        value = low  # low-flow cut-off: noise never leaves the range
            if name in touched:
                value = faults.measure(name, value, published.get(name))
            published[name] = value

    # ----------------------------------------------------------------- model
    def _outdoor(self) -> float:
        cfg = self.config
        return (
            cfg.outdoor_mean
            + cfg.outdoor_amplitude * daily_shape(self.hour)
            + (self._weather_noise)
        )

    def _advance(self, seconds: float, max_substep: float = MAX_SUBSTEP) -> None:
        if seconds <= 0.0:
            return
        n = max(1, math.ceil(seconds / max_substep - 1e-9))
        dt = seconds / n
        cfg = self.config
        decay = math.exp(-dt / cfg.outdoor_noise_tau)
        kick = cfg.outdoor_noise * math.sqrt(1.0 - decay * decay)
        k_pressure = 1.0 - math.exp(-dt / 120.0)  # pressurisation time constant
        for ss in self.substations.values():
            ss.stuck = self.faults.stuck(ss.name)
        gauss = self._weather_rng.gauss
        for _ in range(n):
            self.time += dt
            self._weather_noise = self._weather_noise * decay + kick * gauss(0.0, 1.0)
            self._substep(dt, k_pressure)

    def _substep(self, dt: float, k_pressure: float) -> None:
        t_out = self.t_outdoor = self._outdoor()
        src = self.source
        src.t_outdoor = t_out
        src.setpoint_active = src.curve(t_out) if src.weather_comp else src.setpoint
        src.pump_running = src.pump_cmd
        conductance = self._conductance
        for name, ss, _node, _head in self._subs:
            ss.control(t_out, dt)
            conductance[name] = ss.conductance()
        # pressurisation: the static pressure sags with a leak, make-up water follows it
        leaks = self.faults.leak_rates()
        leak = sum(leaks.values()) if leaks else 0.0
        cfg = src.config
        target = max(cfg.static_pressure - cfg.pressure_droop * leak, 1.0)
        src.p_static += (target - src.p_static) * k_pressure
        src.makeup_flow += (leak - src.makeup_flow) * k_pressure
        net = self.network
        hyd = net.hydraulics
        curve = src.pump_curve
        curve.running = src.pump_running
        curve.dp_setpoint = src.dp_setpoint
        hyd.solve(curve, src.p_static, conductance, leaks)
        src.flow = total = hyd.total
        beyond_a = net.segments.get("N2")
        src.flow_node_a = beyond_a.flow_supply if beyond_a is not None else 0.0
        dp = src.dp = hyd.dp_root
        src.pump_speed = curve.speed(dp, total)
        src.p_return = src.p_static
        src.p_supply = src.p_static + dp
        src.pressure_low = src.p_static < PRESSURE_LOW_BAR
        if self.config.load_profiles:
            hour = self.hour
            dhw, gains = dhw_profile(hour), gains_profile(hour)
        else:
            dhw = gains = 1.0
        returns = self._returns
        flows, node_supply, node_return = hyd.flows, hyd.node_supply, hyd.node_return
        t_node = net.node_t_supply
        for name, ss, node, head in self._subs:
            ss.flow1 = flows[name]
            ss.p1_supply = node_supply[node] - head
            ss.p1_return = node_return[node] - head
            ss.step_thermal(t_node[node], t_out, dhw, gains, dt)
            returns[name] = (ss.flow1, ss.t1_return)
        net.step_thermal(src.t_supply, returns, self.config.ground_temp, dt)
        src.step(net.t_return_root, leak, dt)

    def _validate(self, fault: Fault) -> None:
        if isinstance(fault, Leak):
            if fault.segment not in self.network.segments:
                raise ValueError(f"unknown segment {fault.segment!r}")
            if not 0.0 < fault.rate <= 20.0:
                raise ValueError("leak rate must be in (0, 20] kg/s")
        elif isinstance(fault, Frozen | Spike):
            reg = BY_NAME.get(fault.point)
            if reg is None or reg.table not in ("ir", "di"):
                raise ValueError(f"{fault.point!r} is not a measured point")
            if isinstance(fault, Spike) and (
                reg.is_bool or fault.magnitude <= 0.0 or not 0.0 < fault.probability <= 1.0
            ):
                raise ValueError(
                    "a spike needs a numeric point, magnitude > 0 and 0 < probability ≤ 1"
                )
        elif isinstance(fault, Offline):
            if fault.station not in self._stations:
                raise ValueError(f"unknown station {fault.station!r}")
        elif isinstance(fault, StuckValve) and fault.station not in self.substations:
            raise ValueError(f"unknown substation {fault.station!r}")

"""The primary network of the heating simulator: water properties, buried pipes, hydraulics.

Owns the physics between the heat source and the substations: pipes as chains of well-mixed
cells (transport delay, dispersion, heat loss to ground), pressure drop proportional to the
square of the flow, and the tree hydraulics that gives every substation its flow and pressures.
Units: °C, bar (gauge), kg/s, kW, m, s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

CP = 4.186  # specific heat of water, kJ/(kg K); kW = kg/s * CP * K
G = 9.81  # m/s²


def density(t: float) -> float:
    """Density of water in kg/m³ at `t` °C (within 0.3 % from 0 to 130 °C)."""
    return 999.8 - 0.0661 * t - 0.00357 * t * t


@dataclass(frozen=True, slots=True)
class PipeConfig:
    """One buried pre-insulated pipe of a segment (supply and return are alike)."""

    length_m: float
    diameter_m: float
    loss_w_per_mk: float = 0.35  # linear heat loss coefficient to ground, W/(m K)
    friction: float = 0.02  # Darcy friction factor (turbulent, aged steel)
    cells: int = 10

    @property
    def resistance(self) -> float:
        """Hydraulic resistance R in bar/(kg/s)²: Δp = R·ṁ² (water at 80 °C)."""
        area = math.pi * self.diameter_m**2 / 4
        pa = self.friction * self.length_m / self.diameter_m / (2 * density(80.0) * area**2)
        return pa * 1e-5


class Pipe:
    """A pipe as `cells` well-mixed cells, updated upstream first with an exact exponential."""

    __slots__ = ("cell_kj_per_k", "cell_ua", "loss_kw", "temps")

    def __init__(self, config: PipeConfig, t_init: float) -> None:
        volume = math.pi * config.diameter_m**2 / 4 * config.length_m
        self.cell_kj_per_k = volume * density(70.0) * CP / config.cells
        self.cell_ua = config.loss_w_per_mk * config.length_m / config.cells / 1000.0  # kW/K
        self.temps = [t_init] * config.cells
        self.loss_kw = 0.0

    @property
    def outlet(self) -> float:
        """Temperature leaving the pipe, °C."""
        return self.temps[-1]

    def step(self, t_in: float, flow: float, t_ground: float, dt: float) -> float:
        """Advance `dt` seconds with `flow` kg/s entering at `t_in`; return the outlet °C."""
        a = flow * CP if flow > 0.0 else 0.0
        ua = self.cell_ua
        denom = a + ua
        decay = math.exp(-denom * dt / self.cell_kj_per_k)
        w_up = a / denom * (1.0 - decay)  # each cell relaxes toward its inflow and the ground
        w_ground = ua * t_ground / denom * (1.0 - decay)
        temps = self.temps
        up = t_in
        total = 0.0
        for i in range(len(temps)):
            up = temps[i] * decay + up * w_up + w_ground
            temps[i] = up
            total += up
        self.loss_kw = ua * (total - t_ground * len(temps))
        return up


@dataclass(frozen=True, slots=True)
class SegmentConfig:
    """A network segment: supply and return pipe from node `upstream` to node `downstream`."""

    name: str
    upstream: str
    downstream: str
    pipe: PipeConfig


class Segment:
    """State of one segment: its two pipes, flows and the temperatures it delivers."""

    __slots__ = ("config", "flow_return", "flow_supply", "resistance", "ret", "sup")

    def __init__(self, config: SegmentConfig, t_supply: float, t_return: float) -> None:
        self.config = config
        self.sup = Pipe(config.pipe, t_supply)
        self.ret = Pipe(config.pipe, t_return)
        self.resistance = config.pipe.resistance
        self.flow_supply = 0.0  # kg/s entering the supply pipe (includes leaks downstream)
        self.flow_return = 0.0  # kg/s in the return pipe

    @property
    def loss_kw(self) -> float:
        """Heat lost to ground by both pipes, kW."""
        return self.sup.loss_kw + self.ret.loss_kw


@dataclass(slots=True)
class PumpCurve:
    """A speed-controlled pump holding `dp_setpoint` while its full-speed curve allows.

    Full-speed curve: Δp = head·(1 − (ṁ/flow_max)²); at lower speed n: Δp = head·n² − k·ṁ².
    """

    dp_setpoint: float  # bar
    head: float  # bar at zero flow, full speed
    flow_max: float  # kg/s at zero head, full speed
    running: bool = True

    @property
    def k(self) -> float:
        """Friction coefficient of the curve, bar/(kg/s)²."""
        return self.head / (self.flow_max * self.flow_max)

    def dp_at(self, flow: float) -> float:
        """Differential pressure at `flow` kg/s, bar."""
        if not self.running:
            return 0.0
        return min(self.dp_setpoint, max(self.head - self.k * flow * flow, 0.0))

    def operating_point(self, conductance: float) -> float:
        """Differential pressure where the pump meets a load `flow = conductance·√Δp`."""
        if not self.running or conductance <= 0.0:
            return self.dp_setpoint if self.running else 0.0
        flow_sq = conductance * conductance * self.dp_setpoint
        if self.head - self.k * flow_sq >= self.dp_setpoint:
            return self.dp_setpoint
        c2 = conductance * conductance
        return self.head - self.k * c2 * self.head / (1.0 + c2 * self.k)

    def speed(self, dp: float, flow: float) -> float:
        """Speed in % needed for `dp` at `flow`."""
        if not self.running:
            return 0.0
        return min(100.0 * math.sqrt(max(dp + self.k * flow * flow, 0.0) / self.head), 100.0)


class Hydraulics:
    """Flows and pressures of a tree network fed by one pump at the root node.

    Each consumer is a quadratic resistance (flow = conductance·√Δp); each pipe drops R·ṁ².
    Without leaks the tree reduces exactly to one conductance per node (closed form). Leaks
    leave a segment's supply pipe at its downstream end at a fixed rate; then the solution is
    a fixed-point iteration warm-started from the previous sub-step, a few rounds per sub-step
    (it converges over the next sub-steps, far faster than anything a client can poll).
    """

    def __init__(
        self, root: str, segments: Sequence[Segment], consumers: Mapping[str, str]
    ) -> None:
        self.root = root
        self.segments = list(segments)
        self.consumers = dict(consumers)  # consumer name -> node
        self.node_supply: dict[str, float] = {root: 0.0}
        self.node_return: dict[str, float] = {root: 0.0}
        for seg in self.segments:
            self.node_supply[seg.config.downstream] = 0.0
            self.node_return[seg.config.downstream] = 0.0
        self.order = self._topological()  # root first
        self._at: dict[str, tuple[str, ...]] = {
            node: tuple(c for c, n in self.consumers.items() if n == node)
            for node in self.node_supply
        }
        self._children: dict[str, tuple[Segment, ...]] = {
            node: tuple(s for s in self.order if s.config.upstream == node)
            for node in self.node_supply
        }
        self.flows: dict[str, float] = dict.fromkeys(self.consumers, 0.0)
        self.total = 0.0
        self.dp_root = 0.0
        # precomputed sweeps for the closed form: leaves to root, then root to leaves
        self._upward = [
            (
                seg.config.name,
                2.0 * seg.resistance,
                self._at[seg.config.downstream],
                tuple(c.config.name for c in self._children[seg.config.downstream]),
            )
            for seg in reversed(self.order)
        ]
        self._root_children = tuple(c.config.name for c in self._children[root])
        self._downward = [
            (seg, seg.config.name, seg.config.upstream, seg.config.downstream) for seg in self.order
        ]
        self._seg_c: dict[str, float] = {}
        self._node_dp: dict[str, float] = {}

    def _topological(self) -> list[Segment]:
        ordered: list[Segment] = []
        frontier = [self.root]
        while frontier:
            node = frontier.pop(0)
            for seg in self.segments:
                if seg.config.upstream == node:
                    ordered.append(seg)
                    frontier.append(seg.config.downstream)
        if len(ordered) != len(self.segments):
            raise ValueError("network segments do not form a tree from the root node")
        return ordered

    def solve(
        self,
        pump: PumpCurve,
        p_return_root: float,
        conductance: Mapping[str, float],
        leaks: Mapping[str, float],
    ) -> None:
        """Solve flows (kg/s) and node pressures (bar) for this sub-step."""
        if leaks:
            self._solve_leaking(pump, p_return_root, conductance, leaks)
            return
        seg_c = self._seg_c
        for name, r2, consumers, children in self._upward:
            c = 0.0
            for n in consumers:
                c += conductance[n]
            for child in children:
                c += seg_c[child]
            seg_c[name] = 1.0 / math.sqrt(r2 + 1.0 / (c * c)) if c > 0.0 else 0.0
        root = self.root
        c_root = 0.0
        for n in self._at[root]:
            c_root += conductance[n]
        for child in self._root_children:
            c_root += seg_c[child]
        dp = pump.operating_point(c_root)
        self.dp_root = dp
        self.total = c_root * math.sqrt(dp) if dp > 0.0 else 0.0
        ns, nr, flows = self.node_supply, self.node_return, self.flows
        ns[root] = p_return_root + dp
        nr[root] = p_return_root
        node_dp = self._node_dp
        node_dp[root] = dp
        for seg, name, up, down in self._downward:
            up_dp = node_dp[up]
            m = seg_c[name] * math.sqrt(up_dp) if up_dp > 0.0 else 0.0
            drop = seg.resistance * m * m
            seg.flow_supply = seg.flow_return = m
            ns[down] = ns[up] - drop
            nr[down] = nr[up] + drop
            node_dp[down] = up_dp - 2.0 * drop
        for node, names in self._at.items():
            ndp = node_dp[node]
            root_dp = math.sqrt(ndp) if ndp > 0.0 else 0.0
            for n in names:
                flows[n] = conductance[n] * root_dp

    def _solve_leaking(
        self,
        pump: PumpCurve,
        p_return_root: float,
        conductance: Mapping[str, float],
        leaks: Mapping[str, float],
        iterations: int = 4,
    ) -> None:
        flows = self.flows
        ns, nr = self.node_supply, self.node_return
        at = self._at
        for _ in range(iterations):
            dp = pump.dp_at(self.total)
            ns[self.root] = p_return_root + dp
            nr[self.root] = p_return_root
            for seg in self.order:
                r = seg.resistance
                up, down = seg.config.upstream, seg.config.downstream
                ns[down] = ns[up] - r * seg.flow_supply * seg.flow_supply
                nr[down] = nr[up] + r * seg.flow_return * seg.flow_return
            change = 0.0
            for name, node in self.consumers.items():
                avail = ns[node] - nr[node]
                new = conductance[name] * math.sqrt(avail) if avail > 0.0 else 0.0
                change = max(change, abs(new - flows[name]))
                flows[name] = new
            ret_below: dict[str, float] = {}
            leak_below: dict[str, float] = {}
            for seg in reversed(self.order):
                down, up = seg.config.downstream, seg.config.upstream
                ret = ret_below.get(down, 0.0) + sum(flows[c] for c in at[down])
                sup = ret + leak_below.get(down, 0.0) + leaks.get(seg.config.name, 0.0)
                seg.flow_return, seg.flow_supply = ret, sup
                ret_below[up] = ret_below.get(up, 0.0) + ret
                leak_below[up] = leak_below.get(up, 0.0) + sup - ret
            root = self.root
            ret = ret_below.get(root, 0.0) + sum(flows[c] for c in at[root])
            total = ret + leak_below.get(root, 0.0)
            change = max(change, abs(total - self.total))
            self.total = total
            self.dp_root = dp
            if change < 1e-5:
                break


class Network:
    """The primary network: segments, hydraulics, and the temperatures at every node."""

    def __init__(
        self,
        root: str,
        segments: Sequence[SegmentConfig],
        consumers: Mapping[str, str],
        t_supply: float,
        t_return: float,
    ) -> None:
        self.root = root
        self.segments = {cfg.name: Segment(cfg, t_supply, t_return) for cfg in segments}
        self.hydraulics = Hydraulics(root, list(self.segments.values()), consumers)
        self.order = self.hydraulics.order
        nodes = self.hydraulics.node_supply
        self.node_t_supply: dict[str, float] = dict.fromkeys(nodes, t_supply)
        self.node_t_return: dict[str, float] = dict.fromkeys(nodes, t_return)
        self._consumer_nodes = tuple(consumers.items())
        self._downward = [
            (seg, seg.config.name, seg.config.upstream, seg.config.downstream) for seg in self.order
        ]
        self._upward_nodes = list(reversed(self._downward))

    @property
    def t_return_root(self) -> float:
        """Mixed return temperature arriving at the root (the plant), °C."""
        return self.node_t_return[self.root]

    @property
    def loss_kw(self) -> float:
        """Heat lost to ground by all pipes, kW."""
        return sum(seg.loss_kw for seg in self.segments.values())

    def step_thermal(
        self,
        t_source: float,
        returns: Mapping[str, tuple[float, float]],
        t_ground: float,
        dt: float,
    ) -> None:
        """Advance pipe temperatures; `returns` maps consumer -> (flow kg/s, return °C)."""
        ts = self.node_t_supply
        ts[self.root] = t_source
        for seg, _name, up, down in self._downward:
            ts[down] = seg.sup.step(ts[up], seg.flow_supply, t_ground, dt)
        heat = dict.fromkeys(ts, 0.0)
        mass = dict.fromkeys(ts, 0.0)
        for name, node in self._consumer_nodes:
            flow, t = returns[name]
            heat[node] += flow * t
            mass[node] += flow
        tr = self.node_t_return
        for seg, _name, up, down in self._upward_nodes:
            m = mass[down]
            if m > 1e-9:
                tr[down] = heat[down] / m
            flow = seg.flow_return
            out = seg.ret.step(tr[down], flow, t_ground, dt)
            heat[up] += flow * out
            mass[up] += flow
        m = mass[self.root]
        if m > 1e-9:
            tr[self.root] = heat[self.root] / m

"""Fault injection for the heating simulator, added and removed at run time.

Owns the fault kinds and the set of active faults of one plant: leaks on network segments,
frozen and spiking sensors (applied where measurements are published), offline stations (their
Modbus servers stop answering) and stuck control valves. Each fault has a `key`; adding a fault
with the key of an active one replaces it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from drivers.sim.faultset import FaultSet


@dataclass(frozen=True, slots=True)
class Leak:
    """Water lost from the supply pipe of network segment `segment`, `rate` kg/s."""

    segment: str
    rate: float = 2.0

    @property
    def key(self) -> str:
        """Identity of this fault in the active set."""
        return f"leak:{self.segment}"


@dataclass(frozen=True, slots=True)
class Frozen:
    """Measured point `point` (e.g. "SS2.TT201") holds its last published value."""

    point: str

    @property
    def key(self) -> str:
        """Identity of this fault in the active set."""
        return f"frozen:{self.point}"


@dataclass(frozen=True, slots=True)
class Spike:
    """Measured point `point` jumps by ±`magnitude` in a share `probability` of its samples."""

    point: str
    magnitude: float = 20.0
    probability: float = 0.1

    @property
    def key(self) -> str:
        """Identity of this fault in the active set."""
        return f"spike:{self.point}"


@dataclass(frozen=True, slots=True)
class Offline:
    """Station `station` (e.g. "SS4") stops answering: its Modbus server closes."""

    station: str

    @property
    def key(self) -> str:
        """Identity of this fault in the active set."""
        return f"offline:{self.station}"


@dataclass(frozen=True, slots=True)
class StuckValve:
    """The control valve of substation `station` no longer moves (the PLC flags it)."""

    station: str

    @property
    def key(self) -> str:
        """Identity of this fault in the active set."""
        return f"stuck:{self.station}"


Fault = Leak | Frozen | Spike | Offline | StuckValve


class Faults(FaultSet[Fault]):
    """The faults active on one plant."""

    def __init__(self, validate: Callable[[Fault], None] | None = None, seed: int = 1) -> None:
        super().__init__()
        self._validate = validate
        self._rng = random.Random(seed * 7919 + 17)
        self._leaks: dict[str, float] = {}
        self._offline: frozenset[str] = frozenset()
        self._stuck: frozenset[str] = frozenset()
        self._frozen: frozenset[str] = frozenset()
        self._spikes: dict[str, Spike] = {}
        self._touched: frozenset[str] = frozenset()

    def leak_rates(self) -> dict[str, float]:
        """Leak rate in kg/s per segment with a leak."""
        return self._leaks

    def offline(self, station: str) -> bool:
        """True when `station` is offline."""
        return station in self._offline

    @property
    def offline_stations(self) -> frozenset[str]:
        """Stations whose servers must not answer."""
        return self._offline

    def stuck(self, station: str) -> bool:
        """True when the control valve of `station` is stuck."""
        return station in self._stuck

    @property
    def touched_points(self) -> frozenset[str]:
        """Points a sensor fault (frozen or spike) acts on."""
        return self._touched

    def measure(
        self, point: str, value: float | bool, previous: float | bool | None
    ) -> float | bool:
        """The value published for `point` given its fresh `value` and `previous` publication."""
        if point in self._frozen and previous is not None:
            return previous
        spike = self._spikes.get(point)
        if (
            spike is not None
            and not isinstance(value, bool)
            and self._rng.random() < spike.probability
        ):
            return value + spike.magnitude * self._rng.choice((-1.0, 1.0))
        return value

    def validate(self, fault: Fault) -> None:
        """Raise ValueError for a fault this plant cannot have."""
        if self._validate is not None:
            self._validate(fault)

    def _refresh(self) -> None:
        faults = self._active.values()
        self._leaks = {f.segment: f.rate for f in faults if isinstance(f, Leak)}
        self._offline = frozenset(f.station for f in faults if isinstance(f, Offline))
        self._stuck = frozenset(f.station for f in faults if isinstance(f, StuckValve))
        self._frozen = frozenset(f.point for f in faults if isinstance(f, Frozen))
        self._spikes = {f.point: f for f in faults if isinstance(f, Spike)}
        self._touched = self._frozen | frozenset(self._spikes)

"""Fault injection for the gas gate station simulator, added and removed at run time.

Owns the fault kinds of station GS1 and the set of active faults: a clogging filter, a failed
pressure regulator (optionally with its run's slam-shut valve failing too), a frozen flow meter
and a lost link (the OPC UA server stops). Each fault has a `key`; adding a fault with the key
of an active one replaces it. What a fault does to the plant lives in `drivers.sim.gasgate`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

RUNS = ("A", "B")
FAIL_MODES = ("open", "closed")


@dataclass(frozen=True, slots=True)
class FilterClogging:
    """The inlet filter clogs fast: its resistance grows by `rate` × clean per hour at mean flow.

    Removing the fault means the element was replaced: the filter is clean again.
    """

    rate: float = 5.0

    @property
    def key(self) -> str:
        """Identity of this fault in the active set."""
        return "filter"


@dataclass(frozen=True, slots=True)
class RegulatorFailure:
    """Regulator of run `run` fails `open` (creeps to full opening) or `closed`.

    With `slam_shut_fails` the run's slam-shut valve does not trip either, so a regulator failed
    open drives the outlet pressure up to the station ESV's high-high trip. Removing the fault
    repairs the regulator and resets the run's slam-shut valve.
    """

    run: str = "A"
    mode: str = "open"
    slam_shut_fails: bool = False

    @property
    def key(self) -> str:
        """Identity of this fault in the active set."""
        return f"regulator:{self.run}"


@dataclass(frozen=True, slots=True)
class MeterFrozen:
    """The ultrasonic meter hangs: its flows and totalisers stop updating (volume is lost)."""

    @property
    def key(self) -> str:
        """Identity of this fault in the active set."""
        return "meter"


@dataclass(frozen=True, slots=True)
class LinkLoss:
    """The station's OPC UA server stops; removing the fault starts it again on the same port."""

    @property
    def key(self) -> str:
        """Identity of this fault in the active set."""
        return "link"


GasFault = FilterClogging | RegulatorFailure | MeterFrozen | LinkLoss
F = TypeVar("F", FilterClogging, RegulatorFailure, MeterFrozen, LinkLoss)


def validate(fault: GasFault) -> None:
    """Raise ValueError for a fault the station cannot have."""
    if isinstance(fault, FilterClogging) and not 0.0 < fault.rate <= 1000.0:
        raise ValueError("filter clogging rate must be in (0, 1000] per hour")
    if isinstance(fault, RegulatorFailure):
        if fault.run not in RUNS:
            raise ValueError(f"unknown run {fault.run!r} (expected one of {', '.join(RUNS)})")
        if fault.mode not in FAIL_MODES:
            raise ValueError(f"unknown failure mode {fault.mode!r} (expected open or closed)")


class GasFaults:
    """The faults active on one gas station."""

    def __init__(self) -> None:
        self._active: dict[str, GasFault] = {}
        self._listeners: list[Callable[[], None]] = []

    def add(self, fault: F) -> F:
        """Activate `fault` (replacing an active fault with the same key); return it."""
        validate(fault)
        self._active[fault.key] = fault
        self._changed()
        return fault

    def remove(self, fault: GasFault | str) -> bool:
        """Deactivate a fault given itself or its key; False when it was not active."""
        key = fault if isinstance(fault, str) else fault.key
        found = self._active.pop(key, None) is not None
        if found:
            self._changed()
        return found

    def clear(self) -> None:
        """Deactivate every fault."""
        if self._active:
            self._active.clear()
            self._changed()

    @property
    def active(self) -> tuple[GasFault, ...]:
        """The active faults, in the order they were added."""
        return tuple(self._active.values())

    def get(self, key: str) -> GasFault | None:
        """The active fault with `key`, if any."""
        return self._active.get(key)

    @property
    def link_lost(self) -> bool:
        """True while the station's server must not answer."""
        return "link" in self._active

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` after every change; returns a function that unsubscribes it."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback)

    def _changed(self) -> None:
        for callback in list(self._listeners):
            callback()

"""Fault injection for the gas gate station simulator, added and removed at run time.

Owns the fault kinds of station GS1 and the set of active faults: a clogging filter, a failed
pressure regulator (optionally with its run's slam-shut valve failing too), a frozen flow meter
and a lost link (the OPC UA server stops). Each fault has a `key`; adding a fault with the key
of an active one replaces it. What a fault does to the plant lives in `drivers.sim.gasgate`.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.sim.faultset import FaultSet

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


def validate(fault: GasFault) -> None:
    """Raise ValueError for a fault the station cannot have."""
    if isinstance(fault, FilterClogging) and not 0.0 < fault.rate <= 1000.0:
        raise ValueError("filter clogging rate must be in (0, 1000] per hour")
    if isinstance(fault, RegulatorFailure):
        if fault.run not in RUNS:
            raise ValueError(f"unknown run {fault.run!r} (expected one of {', '.join(RUNS)})")
        if fault.mode not in FAIL_MODES:
            raise ValueError(f"unknown failure mode {fault.mode!r} (expected open or closed)")


class GasFaults(FaultSet[GasFault]):
    """The faults active on one gas station."""

    def validate(self, fault: GasFault) -> None:
        """Raise ValueError for a fault the station cannot have."""
        validate(fault)

    @property
    def link_lost(self) -> bool:
        """True while the station's server must not answer."""
        return "link" in self._active

"""The command service's vocabulary: a selection (a reserved point), a result, a refusal."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["CommandRefused", "CommandResult", "InterlockState", "Outcome", "Selection"]


class CommandRefused(Exception):
    """A command step refused, with a reason a person can act on; nothing was written."""


class Outcome(StrEnum):
    """How an operated command ended."""

    VERIFIED = "verified"  # written, and the read-back reached the target band in time
    FAILED = "failed"  # the write was refused by the device or the link
    TIMEOUT = "timeout"  # written, but the read-back did not reach the target in time


@dataclass(frozen=True, slots=True)
class InterlockState:
    """One interlock as checked at select (or operate): blocking or not, and why."""

    block: str
    message: str
    blocking: bool


@dataclass(slots=True)
class Selection:
    """A point reserved by one person for one command until `expires`."""

    id: str
    tag: str
    user: str
    area: str
    target: Any
    current: Any  # the value when selected (None: unknown)
    unit: str
    min: float | None
    max: float | None
    interlocks: tuple[InterlockState, ...]
    critical: bool  # needs the password at confirm
    two_person: bool  # needs a second person's approval
    selected: float
    expires: float
    confirmed: bool = False
    approved_by: str = ""
    host: str = field(default="", compare=False)

    @property
    def ready(self) -> bool:
        """True when every confirmation the command needs has been given."""
        return (self.confirmed or not self.critical) and (
            bool(self.approved_by) or not self.two_person
        )


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What an operated command did: written or not, and what the read-back showed."""

    selection: str
    tag: str
    user: str
    old: Any
    target: Any
    outcome: Outcome
    readback: Any  # the last read-back value seen (None: none)
    message: str
    written_at: float
    finished_at: float

    @property
    def ok(self) -> bool:
        """True when the command was written and verified."""
        return self.outcome is Outcome.VERIFIED

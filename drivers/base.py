"""Wire types every driver shares: samples, quality, points, device settings, link statistics.

Drivers hand the runtime batches of `Sample`s; the runtime builds tag-level values on them.
This module must stay free of `hmi`, `screens` and Qt (drivers may not import them).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any, ClassVar, Protocol

from drivers.address import Address

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d)\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: Any) -> float:
    """Seconds from a number of seconds or text like '250ms', '1s', '2m', '1h', '7d'."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise ValueError(
            f"bad duration {value!r} (expected a number of seconds or text "
            "like '250ms', '1s', '2m', '1h', '7d')"
        )
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"duration {value!r} must be above zero")
    return seconds


class Quality(IntEnum):
    """How far a value can be trusted; lower is worse, so the worst of several is `min`."""

    BAD = 0
    UNCERTAIN = 1
    GOOD = 2


class Reason(StrEnum):
    """Why a value is not good (empty for good values)."""

    NONE = ""
    INITIAL = "initial"  # no value received yet
    COMM_FAILURE = "comm_failure"  # link to the device lost or not established
    TIMEOUT = "timeout"  # the device did not answer this request in time
    DEVICE_ERROR = "device_error"  # the device answered with an error (e.g. Modbus exception)
    DECODE_ERROR = "decode_error"  # the answer could not be decoded into the declared type
    STALE = "stale"
    OUT_OF_RANGE = "out_of_range"
    CONFIG_ERROR = "config_error"
    CALC_ERROR = "calc_error"  # a derived tag's expression failed (division by zero, ...)


@dataclass(frozen=True, slots=True)
class Sample:
    """One raw value from a device, addressed by the point's subscription key."""

    key: str
    value: Any
    quality: Quality = Quality.GOOD
    reason: Reason = Reason.NONE
    source_ts: float | None = None


Sink = Callable[[list[Sample]], None]


@dataclass(frozen=True, slots=True)
class Point:
    """A source address the runtime wants read, and how often (seconds)."""

    address: Address
    scan: float = 1.0

    @property
    def key(self) -> str:
        """The point's full canonical address (with its #member): samples for it carry this."""
        return str(self.address)


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    """A device as declared in the project: where it is and how to talk to it."""

    name: str
    scheme: str
    host: str = "127.0.0.1"
    port: int = 0
    timeout: float = 1.0
    options: Mapping[str, Any] = field(default_factory=dict)
    # Never from project files: filled in at run time from the OS keyring.
    password: str | None = field(default=None, repr=False)
    # Where a driver may keep per-installation state (e.g. its OPC UA certificate); "" = none.
    data_dir: str = ""


@dataclass(frozen=True, slots=True)
class WriteResult:
    """Outcome of one write attempt."""

    ok: bool
    error: str = ""


@dataclass(frozen=True, slots=True)
class LinkStats:
    """Snapshot of one device link, for diagnostics tags and screens."""

    device: str
    online: bool
    since: float  # time of the last online/offline change (epoch seconds)
    requests: int = 0
    errors: int = 0  # answers that were errors (exception responses, garbage)
    timeouts: int = 0
    reconnects: int = 0
    rtt_p50_ms: float | None = None
    rtt_p99_ms: float | None = None
    loss_pct: float = 0.0  # timeouts and link failures over the recent request window
    last_error: str = ""


class DriverError(Exception):
    """A driver failure a person can act on: names the device, address and what happened."""


class Driver(Protocol):
    """What every protocol driver provides (one instance per connection key)."""

    scheme: ClassVar[str]
    # device options the project may set for this driver, name -> type (int, float, bool, str);
    # float options also accept durations such as "250ms" or "2s" in project files
    OPTIONS: ClassVar[Mapping[str, type]]

    @classmethod
    def parse(cls, text: str) -> Address:
        """Validate and canonicalise an address of this scheme; raise AddressError."""
        ...

    @classmethod
    def natural_type(cls, address: Address) -> str:
        """The engineering type an address naturally carries: bool, int, float or string."""
        ...

    def __init__(self, device: DeviceConfig, sink: Sink) -> None: ...

    async def run(self, points: Sequence[Point]) -> None:
        """Connect, poll or subscribe, push batches to the sink; return only when cancelled."""
        ...

    async def set_points(self, points: Sequence[Point]) -> None:
        """Replace the set of points while running."""
        ...

    async def write(self, address: Address, value: Any) -> WriteResult:
        """One write attempt with a timeout; no silent retries."""
        ...

    def stats(self) -> LinkStats:
        """Current link statistics."""
        ...

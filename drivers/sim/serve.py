"""Modbus TCP servers for the heating simulator: one pymodbus server per station.

Owns the link between the plant model and the wire: a register image per station and unit
(the four tables as plain lists of 16-bit words), a pymodbus `SimDevice` action that copies the
image into each read and applies each write to the plant (validated, all or nothing), and the
Offline fault (a station's listener and its connections close; removing the fault listens again
on the same port). A plant step only marks the images stale; the first read after a step
re-encodes the points whose value changed, so an unpolled station costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
from collections.abc import Callable, Mapping
from functools import partial
from operator import attrgetter
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from drivers.modbus.codec import decode, encode
from drivers.sim.plant import Plant, PlantConfig
from drivers.sim.registers import REGISTERS, STATIONS, Register
from drivers.sim.stepping import Stepper

Endpoint = tuple[str, int]

_TABLE_OF_FC = {
    1: "co",
    5: "co",
    15: "co",
    2: "di",
    3: "hr",
    6: "hr",
    16: "hr",
    22: "hr",
    23: "hr",
    4: "ir",
}
_MAX_RAW = {"uint16": 0xFFFF, "uint32": 0xFFFFFFFF}
_CATCH_ALL_REGISTERS = 125  # one full read
_CATCH_ALL_BITS = 2000
_NEVER = object()


def endpoints_for(base_port: int, host: str = "127.0.0.1") -> dict[str, Endpoint]:
    """Endpoints for every station: HS1 on `base_port`, SS1 on the next port, and so on."""
    return {station: (host, base_port + i) for i, station in enumerate(STATIONS)}


def encode_point(reg: Register, value: float) -> list[int]:
    """Registers holding the engineering `value` of register point `reg`."""
    if reg.dtype in ("float32", "float64"):
        return encode(float(value), reg.dtype, reg.order)
    scaled = value / reg.scale
    raw = math.floor(scaled + 1e-9) if reg.counter else round(scaled)
    return encode(min(max(raw, 0), _MAX_RAW.get(reg.dtype, 0xFFFF)), reg.dtype, reg.order)


def decode_point(reg: Register, registers: list[int]) -> float:
    """The engineering value register point `reg` holds in `registers`."""
    raw = decode(registers, reg.dtype, reg.order)
    return float(raw) if reg.dtype.startswith("float") else float(raw) * reg.scale


class _UnitImage:
    """What one Modbus unit (PLC or heat meter) of a station shows: its four tables."""

    def __init__(self, plant: Plant, registers: list[Register]) -> None:
        self.plant = plant
        self.points: dict[str, list[Register]] = {t: [] for t in ("ir", "hr", "co", "di")}
        for reg in registers:
            self.points[reg.table].append(reg)
        self.size = {
            t: max((r.offset + r.count for r in regs), default=0) for t, regs in self.points.items()
        }
        self.words: dict[str, list[int]] = {
            t: [0] * (self.size[t] if t in ("ir", "hr") else (self.size[t] + 15) // 16)
            for t in self.points
        }
        self._last: dict[str, object] = {}
        self._stale = True
        self.write_requests = 0  # write requests received, applied or refused
        self.applied: list[tuple[str, float | bool]] = []  # (point, value) of applied writes
        measured = plant.measured
        self._plan: list[tuple[Register, Callable[[], Any], list[int]]] = [
            (
                reg,
                partial(measured.__getitem__, reg.name)
                if table in ("ir", "di")
                else partial(attrgetter(reg.attr), plant.station(reg.station)),
                self.words[table],
            )
            for table, regs in self.points.items()
            for reg in regs
        ]
        self.refresh()

    def simdevice(self, unit_id: int) -> SimDevice:
        """A pymodbus device whose action serves this image."""

        def regs(n: int) -> list[SimData]:
            if n == 0:
                return [SimData(0, datatype=DataType.INVALID)]
            return [SimData(0, count=n, values=0, datatype=DataType.REGISTERS)]

        def bits(n: int) -> list[SimData]:
            return [SimData(0, count=max(n, 1), values=False, datatype=DataType.BITS)]

        s = self.size
        return SimDevice(
            unit_id,
            simdata=(bits(s["co"]), bits(s["di"]), regs(s["hr"]), regs(s["ir"])),
            action=self.action,
        )

    def invalidate(self) -> None:
        """The plant stepped: encode again before the next read (a step itself costs nothing)."""
        self._stale = True

    def refresh(self) -> None:
        """Encode every point whose value changed since the last refresh."""
        self._stale = False
        last = self._last
        for reg, read, words in self._plan:
            value = read()
            if value == last.get(reg.name, _NEVER):
                continue
            last[reg.name] = value
            if reg.is_bool:
                word, bit = divmod(reg.offset, 16)
                if value:
                    words[word] |= 1 << bit
                else:
                    words[word] &= ~(1 << bit)
            else:
                words[reg.offset : reg.offset + reg.count] = encode_point(reg, float(value))

    async def action(  # noqa: PLR0917 - the signature pymodbus calls (SimDevice.action)
        self,
        func_code: int,
        start: int,
        address: int,
        count: int,
        registers: list[int],
        values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """pymodbus hook: fill `registers` for reads, apply `values` to the plant for writes."""
        table = _TABLE_OF_FC.get(func_code)
        if table is None or not self.points[table]:
            return ExcCodes.ILLEGAL_ADDRESS
        if self._stale:
            self.refresh()
        if values is not None:
            self.write_requests += 1
        words = self.words[table]
        if table in ("co", "di"):
            if values is not None:
                if address + len(values) > self.size[table]:
                    return ExcCodes.ILLEGAL_ADDRESS
                return self._write_bits(address, [bool(v) for v in values])
            first = address // 16 - start
            registers[first : first + count] = words[first : first + count]
            return None
        if values is not None:
            return self._write_registers(address, [int(v) for v in values])
        first = address - start
        registers[first : first + count] = words[first : first + count]
        return None

    def _write_bits(self, address: int, values: list[bool]) -> ExcCodes | None:
        by_offset = {r.offset: r for r in self.points["co"]}
        changes = [
            (by_offset[address + i], v) for i, v in enumerate(values) if address + i in by_offset
        ]
        for reg, value in changes:
            self.plant.write(reg.name, value)
            self.applied.append((reg.name, value))
        self.refresh()
        return None

    def _write_registers(self, address: int, values: list[int]) -> ExcCodes | None:
        image = list(self.words["hr"])
        end = address + len(values)
        if end > len(image):
            return ExcCodes.ILLEGAL_ADDRESS
        image[address:end] = values
        touched = [r for r in self.points["hr"] if r.offset < end and r.offset + r.count > address]
        changes: list[tuple[Register, float]] = []
        for reg in touched:
            try:
                value = decode_point(reg, image[reg.offset : reg.offset + reg.count])
            except ValueError:
                return ExcCodes.ILLEGAL_VALUE
            if (
                not math.isfinite(value)
                or (reg.low is not None and value < reg.low - 1e-6)
                or (reg.high is not None and value > reg.high + 1e-6)
            ):
                return ExcCodes.ILLEGAL_VALUE  # nothing applied: a refused write is atomic
            if reg.low is not None:
                value = max(value, reg.low)
            if reg.high is not None:
                value = min(value, reg.high)
            changes.append((reg, value))
        for reg, value in changes:
            self.plant.write(reg.name, value)
            self.applied.append((reg.name, value))
        self.words["hr"][address:end] = values
        self.refresh()
        return None


async def _gateway_no_response(*_args: Any) -> ExcCodes | None:
    return ExcCodes.GATEWAY_NO_RESPONSE


def _catch_all() -> SimDevice:
    """Device id 0 answers every unit id nothing is configured for: exception 0x0B."""
    bits = [SimData(0, count=_CATCH_ALL_BITS, values=False, datatype=DataType.BITS)]
    regs = [SimData(0, count=_CATCH_ALL_REGISTERS, values=0, datatype=DataType.REGISTERS)]
    return SimDevice(0, simdata=(bits, list(bits), regs, list(regs)), action=_gateway_no_response)


class _Station:
    """One station's server: its images and the pymodbus server while it is online."""

    def __init__(self, name: str, endpoint: Endpoint, plant: Plant) -> None:
        self.name = name
        self.endpoint = endpoint
        units = sorted({r.unit_id for r in REGISTERS if r.station == name})
        self.images = {
            u: _UnitImage(plant, [r for r in REGISTERS if r.station == name and r.unit_id == u])
            for u in units
        }
        self.server: ModbusTcpServer | None = None

    async def start(self) -> None:
        """Listen on the endpoint (same port every time)."""
        if self.server is not None:
            return
        devices = [img.simdevice(u) for u, img in self.images.items()] + [_catch_all()]
        server = ModbusTcpServer(devices, address=self.endpoint)
        try:
            await server.serve_forever(background=True)
        except RuntimeError as exc:
            await server.shutdown()  # type: ignore[no-untyped-call]
            host, port = self.endpoint
            raise OSError(f"{self.name}: cannot listen on {host}:{port} ({exc})") from exc
        self.server = server

    async def stop(self) -> None:
        """Close the listener and every client connection."""
        server, self.server = self.server, None
        if server is not None:
            await server.shutdown()  # type: ignore[no-untyped-call]

    def invalidate(self) -> None:
        """The plant stepped: the images re-encode on their next read."""
        for image in self.images.values():
            image.invalidate()


class HeatingSimulator:
    """The plant served over Modbus TCP: one server per station, stepped in real time."""

    def __init__(self, config: PlantConfig | None = None) -> None:
        self._config = config
        self._plant: Plant | None = None
        self._stations: dict[str, _Station] = {}
        self._stepper: Stepper | None = None

    @property
    def plant(self) -> Plant:
        """The running plant (for fault injection and inspection)."""
        if self._plant is None:
            raise RuntimeError("the simulator is not started")
        return self._plant

    @property
    def endpoints(self) -> dict[str, Endpoint]:
        """Where each station listens."""
        return {name: st.endpoint for name, st in self._stations.items()}

    @property
    def write_requests(self) -> int:
        """Write requests the servers received (applied or refused), for tests and the log."""
        return sum(i.write_requests for st in self._stations.values() for i in st.images.values())

    @property
    def applied_writes(self) -> list[tuple[str, float | bool]]:
        """(point, value) of every write the servers applied, in order per unit."""
        return [w for st in self._stations.values() for i in st.images.values() for w in i.applied]

    @property
    def online(self) -> frozenset[str]:
        """Stations whose servers are listening now."""
        return frozenset(n for n, st in self._stations.items() if st.server is not None)

    async def start(
        self,
        endpoints: Mapping[str, Endpoint],
        speed: float = 1.0,
        seed: int = 1,
        step: float = 0.2,
    ) -> None:
        """Build the plant, listen on every station's endpoint, and start stepping."""
        if self._stepper is not None:
            raise RuntimeError("the simulator is already running")
        unknown = sorted(set(endpoints) - set(STATIONS))
        if unknown:
            raise ValueError(f"unknown stations {unknown} (expected {', '.join(STATIONS)})")
        plant = self._plant = Plant(self._config, seed=seed, speed=speed)
        stepper = self._stepper = Stepper(plant, step)
        self._stations = {n: _Station(n, ep, plant) for n, ep in endpoints.items()}
        try:
            await self._reconcile()
        except BaseException:
            await self.stop()
            raise
        stepper.start(self._after_step, "conduit-sim-step")

    async def stop(self) -> None:
        """Stop stepping and close every listener and connection."""
        stepper, self._stepper = self._stepper, None
        if stepper is not None:
            await stepper.stop()
        for station in self._stations.values():
            await station.stop()
        await asyncio.sleep(0)  # let pymodbus finish its connection callbacks

    async def _after_step(self) -> None:
        for station in self._stations.values():
            station.invalidate()
        await self._reconcile()

    async def _reconcile(self) -> None:
        offline = self.plant.faults.offline_stations
        for name, station in self._stations.items():
            if name in offline:
                await station.stop()
            else:
                await station.start()


def run(
    endpoints: Mapping[str, Endpoint],
    speed: float = 1.0,
    seed: int = 1,
    step: float = 0.2,
    *,
    config: PlantConfig | None = None,
    duration: float | None = None,
    ready: Callable[[], None] | None = None,
) -> None:
    """Serve the simulator until interrupted (Ctrl+C, SIGINT, SIGTERM) or for `duration` s.

    `ready` is called once every station listens and the signal handlers are in place.
    """

    async def main() -> None:
        sim = HeatingSimulator(config)
        await sim.start(endpoints, speed=speed, seed=seed, step=step)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, stop.set)  # not on Windows: Ctrl+C still works
        if ready is not None:
            ready()
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(duration):
                    await stop.wait()
        finally:
            await sim.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())

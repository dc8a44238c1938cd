"""Request planning for Modbus: coalesce points into the fewest reads, decode a block, and
choose the request that writes a value.

Pure functions. Points are grouped by (unit, table), sorted by offset and merged greedily into
blocks within the protocol limits (125 registers, 2000 bits per read) while the holes between
them stay within `max_gap`. A multi-register value is never split; bits of one register share it.
Requests are named by the pymodbus client method and its keyword arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from drivers.modbus.codec import ModbusAddress, decode, encode

MAX_READ_REGISTERS = 125
MAX_READ_BITS = 2000
DEFAULT_MAX_GAP = 16  # registers
DEFAULT_MAX_BIT_GAP = 64  # bits

Member = tuple[str, ModbusAddress]
Request = tuple[str, dict[str, Any]]  # client method name, keyword arguments
READ_METHODS = {
    "co": "read_coils",
    "di": "read_discrete_inputs",
    "ir": "read_input_registers",
    "hr": "read_holding_registers",
}


@dataclass(frozen=True, slots=True)
class Block:
    """One read request: `count` registers (or bits) of `table` on `unit` from `start`."""

    unit: int
    table: str
    start: int
    count: int
    members: list[Member]

    @property
    def end(self) -> int:
        """One past the last register (or bit) read."""
        return self.start + self.count

    def read_request(self) -> Request:
        """The client method and arguments that read this block."""
        args = {"address": self.start, "count": self.count, "device_id": self.unit}
        return READ_METHODS[self.table], args

    def describe(self) -> str:
        """Human-readable range, e.g. 'unit 1 hr 100..224'."""
        return f"unit {self.unit} {self.table} {self.start}..{self.end - 1}"


@dataclass(frozen=True, slots=True)
class DecodeFailure:
    """Stands in for a member's value when its registers could not be decoded."""

    message: str


def plan(
    points: Sequence[Member],
    max_registers: int = MAX_READ_REGISTERS,
    max_bits: int = MAX_READ_BITS,
    max_gap: int = DEFAULT_MAX_GAP,
    max_bit_gap: int = DEFAULT_MAX_BIT_GAP,
) -> list[Block]:
    """Merge points into the fewest block reads within the limits; blocks sorted by unit/table."""
    if not 1 <= max_registers <= MAX_READ_REGISTERS:
        raise ValueError(f"max_registers must be 1..{MAX_READ_REGISTERS}, got {max_registers}")
    if not 1 <= max_bits <= MAX_READ_BITS:
        raise ValueError(f"max_bits must be 1..{MAX_READ_BITS}, got {max_bits}")
    if max_gap < 0 or max_bit_gap < 0:
        raise ValueError("max_gap and max_bit_gap must be >= 0")
    ordered = sorted(points, key=lambda p: (p[1].unit, p[1].table, p[1].offset, -p[1].end))
    blocks: list[Block] = []
    for (unit, table), group in groupby(ordered, key=lambda p: (p[1].unit, p[1].table)):
        bits = table in ("co", "di")
        limit, gap = (max_bits, max_bit_gap) if bits else (max_registers, max_gap)
        start = end = -1
        members: list[Member] = []
        for key, address in group:
            fits = (
                members and address.offset - end <= gap and max(end, address.end) - start <= limit
            )
            if fits:
                end = max(end, address.end)
                members.append((key, address))
                continue
            if members:
                blocks.append(Block(unit, table, start, end - start, members))
            start, end, members = address.offset, address.end, [(key, address)]
        if members:
            blocks.append(Block(unit, table, start, end - start, members))
    return blocks


def _member_value(block: Block, data: Sequence[Any], address: ModbusAddress) -> Any:
    index = address.offset - block.start
    if block.table in ("co", "di"):
        return bool(data[index])
    if address.bit is not None:
        word = decode(data[index : index + 1], "uint16", address.order)
        return bool((word >> address.bit) & 1)
    return decode(data[index : index + address.count], address.dtype, address.order)


def extract(block: Block, data: Sequence[Any]) -> list[tuple[str, Any]]:
    """Decode each member of `block` from the registers (or bits) read for it.

    Raises ValueError if `data` is shorter than the block; a member that cannot be decoded
    gets a `DecodeFailure` instead of a value.
    """
    if len(data) < block.count:
        unit = "bits" if block.table in ("co", "di") else "registers"
        raise ValueError(f"short answer: {len(data)} of {block.count} {unit}")
    result: list[tuple[str, Any]] = []
    for key, address in block.members:
        try:
            result.append((key, _member_value(block, data, address)))
        except (ValueError, TypeError, IndexError) as exc:
            result.append((key, DecodeFailure(f"{key}: {exc}")))
    return result


def write_request(where: ModbusAddress, value: Any) -> Request:
    """The request that writes `value` to `where`; ValueError if it cannot be written.

    Coils use write_coil, one register write_register, several write_registers, and a bit of a
    register mask_write_register (FC22), which changes that bit alone on the device.
    """
    if where.table in ("ir", "di"):
        kind = "input registers" if where.table == "ir" else "discrete inputs"
        raise ValueError(f"{kind} are read-only (write to hr or co)")
    args: dict[str, Any] = {"address": where.offset, "device_id": where.unit}
    if where.table == "co":
        return "write_coil", {**args, "value": bool(encode(value, "bool")[0])}
    if where.bit is not None:
        on = bool(encode(value, "bool")[0])
        bit = where.bit ^ 8 if where.order in ("BADC", "DCBA") else where.bit  # raw register bit
        mask = {"and_mask": 0xFFFF ^ (1 << bit), "or_mask": (1 << bit) if on else 0}
        return "mask_write_register", {**args, **mask}
    registers = encode(value, where.dtype, where.order, where.length)
    if len(registers) == 1:
        return "write_register", {**args, "value": registers[0]}
    return "write_registers", {**args, "values": registers}

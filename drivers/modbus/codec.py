"""Modbus values and addresses: register encode/decode per type and word order, and `modbus://`.

Pure functions only (no I/O). Owns the data types and byte orders a Modbus tag may declare, how
a value maps onto 16-bit registers, and the address grammar `/<unit>/<table>/<offset>[.<bit>]`
(ANCHORS-STYLE 5.2) with its canonical form.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from drivers.address import Address, AddressError, canonical_query, split
from drivers.floats import float32_decimal

DTYPES: tuple[str, ...] = (
    "bool",
    "int16",
    "uint16",
    "int32",
    "uint32",
    "int64",
    "uint64",
    "float32",
    "float64",
    "string",
)
ORDERS: tuple[str, ...] = ("ABCD", "CDAB", "BADC", "DCBA")
TABLES: tuple[str, ...] = ("co", "di", "ir", "hr")
BIT_TABLES: frozenset[str] = frozenset({"co", "di"})
TABLE_ALIASES: dict[str, str] = {
    "co": "co",
    "coil": "co",
    "coils": "co",
    "di": "di",
    "discrete": "di",
    "discretes": "di",
    "ir": "ir",
    "input": "ir",
    "inputs": "ir",
    "hr": "hr",
    "holding": "hr",
}
MODICON_TABLES: dict[str, str] = {"0": "co", "1": "di", "3": "ir", "4": "hr"}
MAX_STRING_REGISTERS = 123  # what one write_registers request can carry

_INT_RANGES: dict[str, tuple[int, int, int]] = {
    # dtype -> (registers, min, max)
    "int16": (1, -(2**15), 2**15 - 1),
    "uint16": (1, 0, 2**16 - 1),
    "int32": (2, -(2**31), 2**31 - 1),
    "uint32": (2, 0, 2**32 - 1),
    "int64": (4, -(2**63), 2**63 - 1),
    "uint64": (4, 0, 2**64 - 1),
}
_FLOATS: dict[str, tuple[int, str]] = {"float32": (2, ">f"), "float64": (4, ">d")}
_QUERY_ORDER = ("type", "order", "len")


def register_count(dtype: str, length: int = 0) -> int:
    """How many 16-bit registers a value of `dtype` occupies (`length` for strings)."""
    if dtype in ("bool", "int16", "uint16"):
        return 1
    if dtype in _INT_RANGES:
        return _INT_RANGES[dtype][0]
    if dtype in _FLOATS:
        return _FLOATS[dtype][0]
    if dtype == "string":
        if length <= 0:
            raise ValueError("a string needs a length in registers (len > 0)")
        return length
    raise ValueError(f"unknown type {dtype!r} (expected one of {', '.join(DTYPES)})")


def _check_order(order: str) -> None:
    if order not in ORDERS:
        raise ValueError(f"unknown order {order!r} (expected one of {', '.join(ORDERS)})")


def _swap_bytes(word: int) -> int:
    return ((word & 0xFF) << 8) | (word >> 8)


def _to_registers(raw: bytes, order: str) -> list[int]:
    """Big-endian bytes (A first) -> registers in the device's order."""
    words = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
    if order in ("BADC", "DCBA"):
        words = [_swap_bytes(w) for w in words]
    if order in ("CDAB", "DCBA"):
        words.reverse()
    return words


def _from_registers(registers: Sequence[int], order: str) -> bytes:
    """Registers in the device's order -> big-endian bytes (A first)."""
    words = [int(w) & 0xFFFF for w in registers]
    if order in ("CDAB", "DCBA"):
        words.reverse()
    if order in ("BADC", "DCBA"):
        words = [_swap_bytes(w) for w in words]
    return b"".join(w.to_bytes(2, "big") for w in words)


def _as_int(value: Any, dtype: str) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip(), 0)
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not an integer for type {dtype}")


def encode(value: Any, dtype: str, order: str = "ABCD", length: int = 0) -> list[int]:
    """Registers that hold `value` as `dtype` in byte `order`; ValueError if it does not fit."""
    _check_order(order)
    count = register_count(dtype, length)
    if dtype == "bool":
        if isinstance(value, bool) or value in (0, 1):
            return _to_registers(int(bool(value)).to_bytes(2, "big"), order)
        raise ValueError(f"{value!r} is not a bool (expected true/false or 0/1)")
    if dtype in _INT_RANGES:
        number = _as_int(value, dtype)
        _, low, high = _INT_RANGES[dtype]
        if not low <= number <= high:
            raise ValueError(f"{number} is out of range for {dtype} ({low}..{high})")
        return _to_registers(number.to_bytes(2 * count, "big", signed=low < 0), order)
    if dtype in _FLOATS:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"{value!r} is not a number for type {dtype}")
        try:
            number_f = float(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a number for type {dtype}") from None
        try:
            raw = struct.pack(_FLOATS[dtype][1], number_f)
        except (OverflowError, struct.error):
            raise ValueError(f"{value!r} is out of range for {dtype}") from None
        return _to_registers(raw, order)
    # string
    text = value if isinstance(value, str) else str(value)
    try:
        data = text.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"{text!r} has characters outside Latin-1") from None
    if len(data) > 2 * count:
        raise ValueError(f"{text!r} is longer than {2 * count} characters (len={count})")
    data = data.ljust(2 * count, b"\0")
    words = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    if order in ("BADC", "DCBA"):
        words = [_swap_bytes(w) for w in words]
    return words


def decode(registers: Sequence[int], dtype: str, order: str = "ABCD") -> Any:
    """The value `registers` hold as `dtype` in byte `order`; ValueError if they do not fit."""
    _check_order(order)
    if dtype == "string":
        if not registers:
            raise ValueError("no registers to decode a string from")
        words = [int(w) & 0xFFFF for w in registers]
        if order in ("BADC", "DCBA"):
            words = [_swap_bytes(w) for w in words]
        return b"".join(w.to_bytes(2, "big") for w in words).rstrip(b"\0").decode("latin-1")
    count = register_count(dtype)
    if len(registers) != count:
        raise ValueError(f"{dtype} needs {count} registers, got {len(registers)}")
    raw = _from_registers(registers, order)
    if dtype == "bool":
        return int.from_bytes(raw, "big") != 0
    if dtype in _INT_RANGES:
        return int.from_bytes(raw, "big", signed=not dtype.startswith("u"))
    value: float = struct.unpack(_FLOATS[dtype][1], raw)[0]
    return float32_decimal(value) if dtype == "float32" else value


@dataclass(frozen=True, slots=True)
class ModbusAddress:
    """Where a Modbus value lives and how to decode it (zero-based PDU offset)."""

    unit: int
    table: str  # co di ir hr
    offset: int
    bit: int | None = None  # bit of a register (ir/hr), 0 = least significant
    dtype: str = "uint16"
    order: str = "ABCD"
    length: int = 0  # registers, for strings

    @property
    def is_bits(self) -> bool:
        """True for coils and discrete inputs (read as bits, not registers)."""
        return self.table in BIT_TABLES

    @property
    def count(self) -> int:
        """How many registers (or bits) the value occupies."""
        if self.is_bits or self.bit is not None:
            return 1
        return register_count(self.dtype, self.length)

    @property
    def end(self) -> int:
        """One past the last register (or bit) the value occupies."""
        return self.offset + self.count


def _number(text: str, what: str, high: int, original: str) -> int:
    if not text.isdigit() or not text.isascii():
        raise AddressError(original, f"{what} {text!r} must be a number 0..{high}")
    number = int(text)
    if number > high:
        raise AddressError(original, f"{what} {number} is out of range (0..{high})")
    return number


def _modicon(ref: str, original: str) -> tuple[str, str]:
    """A 1-based Modicon reference (400101, 40101) -> (table, zero-based offset text)."""
    base, dot, bit = ref.partition(".")
    if not base.isdigit() or len(base) not in (5, 6) or base[0] not in MODICON_TABLES:
        raise AddressError(
            original,
            f"expected path /<unit>/<table>/<offset>[.<bit>] (table one of {', '.join(TABLES)}) "
            f"or a Modicon reference such as 400101, got {ref!r}",
        )
    number = int(base[1:])
    if number < 1 or number > 65536:
        raise AddressError(original, f"Modicon reference {base} is out of range (1..65536)")
    return MODICON_TABLES[base[0]], str(number - 1) + dot + bit


def _parse(address: Address, text: str) -> tuple[Address, ModbusAddress]:
    if address.scheme != "modbus":
        raise AddressError(text, f"not a modbus address (scheme {address.scheme!r})")
    if address.member is not None:
        raise AddressError(text, "a modbus address has no '#member'")
    segments = list(address.segments)
    if len(segments) == 2:
        segments = [segments[0], *_modicon(segments[1], text)]
    if len(segments) != 3:
        raise AddressError(
            text, "expected path /<unit>/<table>/<offset>[.<bit>] (e.g. modbus://PLC1/1/hr/100)"
        )
    unit = _number(segments[0], "unit", 255, text)
    table = TABLE_ALIASES.get(segments[1].lower())
    if table is None:
        raise AddressError(
            text, f"unknown table {segments[1]!r} (expected one of {', '.join(TABLES)})"
        )
    offset_text, dot, bit_text = segments[2].partition(".")
    offset = _number(offset_text, "offset", 65535, text)
    bit: int | None = None
    if dot:
        if table in BIT_TABLES:
            raise AddressError(text, f"a bit number applies to registers (ir, hr), not {table}")
        bit = _number(bit_text, "bit", 15, text)
    default_type = "bool" if table in BIT_TABLES or bit is not None else "uint16"
    canonical_query(address, text, _QUERY_ORDER, {})  # rejects unknown keys
    dtype = (address.option("type") or default_type).lower()
    if dtype not in DTYPES:
        raise AddressError(text, f"unknown type {dtype!r} (expected one of {', '.join(DTYPES)})")
    order = (address.option("order") or "ABCD").upper()
    if order not in ORDERS:
        raise AddressError(text, f"unknown order {order!r} (expected one of {', '.join(ORDERS)})")
    if (table in BIT_TABLES or bit is not None) and dtype != "bool":
        where = {"co": "a coil (co)", "di": "a discrete input (di)"}.get(table, "a register bit")
        raise AddressError(text, f"type {dtype} does not fit {where} (expected bool)")
    if table in BIT_TABLES and order != "ABCD":
        raise AddressError(text, f"order does not apply to {table} (bits)")
    length = 0
    len_text = address.option("len")
    if dtype == "string":
        if len_text is None:
            raise AddressError(text, "type string needs len=<registers> (e.g. ?type=string&len=8)")
        length = _number(len_text, "len", MAX_STRING_REGISTERS, text)
        if length == 0:
            raise AddressError(text, f"len must be 1..{MAX_STRING_REGISTERS}")
    elif len_text is not None:
        raise AddressError(text, f"len applies to type string only, not {dtype}")
    result = ModbusAddress(unit, table, offset, bit, dtype, order, length)
    if result.end - 1 > 65535:
        raise AddressError(
            text, f"{dtype} at offset {offset} runs past register 65535 ({result.count} registers)"
        )
    query: list[tuple[str, str]] = []
    if dtype != default_type:
        query.append(("type", dtype))
    if order != "ABCD":
        query.append(("order", order))
    if length:
        query.append(("len", str(length)))
    path_offset = f"{offset}.{bit}" if bit is not None else str(offset)
    canonical = Address("modbus", address.authority, (str(unit), table, path_offset), tuple(query))
    return canonical, result


def parse_address(text: str) -> Address:
    """Validate a `modbus://` address and return its canonical form; raise AddressError."""
    return _parse(split(text), text)[0]


@lru_cache(maxsize=65536)
def modbus_address(address: Address) -> ModbusAddress:
    """The Modbus location and decoding of a (parsed) address; raise AddressError."""
    return _parse(address, str(address))[1]

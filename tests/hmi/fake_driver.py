"""A tiny stand-in driver for project tests: address parsing, natural types and options only.

Registered in `drivers.SCHEMES` by test fixtures (`fake://DEVICE/unit/table/offset?type=...`),
so project loading can be tested without any real protocol driver.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from drivers.address import Address, AddressError, canonical_query, split

TABLES = ("co", "di", "ir", "hr")
TYPES = ("bool", "int16", "uint16", "int32", "uint32", "float32", "float64", "string")


class FakeDriver:
    """Parses `fake://DEVICE/<unit>/<table>/<offset>` addresses; never connects."""

    scheme: ClassVar[str] = "fake"
    OPTIONS: ClassVar[Mapping[str, type]] = {
        "max_gap": int,
        "poll_delay": float,
        "rtu": bool,
        "label": str,
    }

    @classmethod
    def parse(cls, text: str) -> Address:
        """Validate and canonicalise a fake address; raise AddressError."""
        address = split(text)
        if len(address.segments) != 3:
            raise AddressError(text, "expected /unit/table/offset (e.g. /1/hr/100)")
        unit, table, offset = address.segments
        if not unit.isdigit() or int(unit) > 255:
            raise AddressError(text, f"unit {unit!r} must be 0-255")
        if table not in TABLES:
            raise AddressError(text, f"unknown table {table!r} (expected one of co, di, ir, hr)")
        if not offset.isdigit() or int(offset) > 65535:
            raise AddressError(text, f"offset {offset!r} must be 0-65535")
        dtype = address.option("type", "uint16")
        if dtype not in TYPES:
            raise AddressError(text, f"unknown type {dtype!r} (expected one of {', '.join(TYPES)})")
        query = canonical_query(address, text, ("type",), {"type": "uint16"})
        return Address(address.scheme, address.authority, address.segments, query, None)

    @classmethod
    def natural_type(cls, address: Address) -> str:
        """bool for coils and inputs, float for float types, string, else int."""
        dtype = address.option("type", "uint16") or "uint16"
        if address.segments[1] in ("co", "di") or dtype == "bool":
            return "bool"
        if dtype == "string":
            return "string"
        return "float" if dtype.startswith("float") else "int"


class OtherDriver(FakeDriver):
    """A second scheme, to test a device whose driver differs from an address's scheme."""

    scheme: ClassVar[str] = "other"

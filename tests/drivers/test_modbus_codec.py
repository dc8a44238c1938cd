"""Modbus codec: register encode/decode per type and order, and `modbus://` address parsing."""

from __future__ import annotations

import math

import pytest

from drivers.address import AddressError
from drivers.modbus.codec import (
    DTYPES,
    ORDERS,
    ModbusAddress,
    decode,
    encode,
    modbus_address,
    parse_address,
    register_count,
)

# value with distinct bytes A..H so every order gives a different register image
SAMPLES = {
    "bool": True,
    "int16": -12345,
    "uint16": 0xA1B2,
    "int32": -0x01020304,
    "uint32": 0xA1B2C3D4,
    "int64": -0x0102030405060708,
    "uint64": 0xA1B2C3D4E5F60718,
    "float32": -1234.5,
    "float64": 6.02214076e23,
    "string": "Pump-01 ok",
}


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_every_type_and_order(dtype: str, order: str) -> None:
    value = SAMPLES[dtype]
    registers = encode(value, dtype, order, length=6)
    assert len(registers) == register_count(dtype, 6)
    assert all(0 <= r <= 0xFFFF for r in registers)
    assert decode(registers, dtype, order) == value


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("ABCD", [0x0102, 0x0304]),
        ("CDAB", [0x0304, 0x0102]),
        ("BADC", [0x0201, 0x0403]),
        ("DCBA", [0x0403, 0x0201]),
    ],
)
def test_32_bit_orders_are_byte_positions(order: str, expected: list[int]) -> None:
    assert encode(0x01020304, "uint32", order) == expected


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("ABCD", [0x0102, 0x0304, 0x0506, 0x0708]),
        ("CDAB", [0x0708, 0x0506, 0x0304, 0x0102]),
        ("BADC", [0x0201, 0x0403, 0x0605, 0x0807]),
        ("DCBA", [0x0807, 0x0605, 0x0403, 0x0201]),
    ],
)
def test_64_bit_orders_extend_the_rule_across_four_registers(
    order: str, expected: list[int]
) -> None:
    assert encode(0x0102030405060708, "uint64", order) == expected


def test_16_bit_types_swap_bytes_only_for_badc_and_dcba() -> None:
    assert encode(0x0102, "uint16", "ABCD") == encode(0x0102, "uint16", "CDAB") == [0x0102]
    assert encode(0x0102, "uint16", "BADC") == encode(0x0102, "uint16", "DCBA") == [0x0201]
    assert encode(-2, "int16") == [0xFFFE]
    assert decode([0xFFFE], "int16") == -2


def test_known_float_images() -> None:
    assert encode(1.5, "float32") == [0x3FC0, 0x0000]
    assert encode(1.5, "float32", "CDAB") == [0x0000, 0x3FC0]
    assert math.isnan(decode([0x7FC0, 0], "float32"))


def test_strings_pad_swap_and_strip() -> None:
    assert encode("AB", "string", length=2) == [0x4142, 0]
    assert encode("AB", "string", "BADC", length=2) == [0x4241, 0]
    assert decode([0x4142, 0x4300], "string") == "ABC"
    assert decode([0x4241, 0x0043], "string", "BADC") == "ABC"


@pytest.mark.parametrize(
    ("value", "dtype", "length"),
    [
        (32768, "int16", 0),
        (-32769, "int16", 0),
        (-1, "uint16", 0),
        (65536, "uint16", 0),
        (2**31, "int32", 0),
        (2**32, "uint32", 0),
        (2**63, "int64", 0),
        (-1, "uint64", 0),
        (1e39, "float32", 0),
        (1.5, "int32", 0),
        ("abc", "int16", 0),
        (2, "bool", 0),
        ("too long", "string", 2),
        ("Ω", "string", 4),
    ],
)
def test_out_of_range_values_raise(value: object, dtype: str, length: int) -> None:
    with pytest.raises(ValueError):
        encode(value, dtype, length=length)


def test_bad_dtype_order_and_sizes_raise() -> None:
    with pytest.raises(ValueError, match="unknown type"):
        encode(1, "int8")
    with pytest.raises(ValueError, match="unknown order"):
        encode(1, "int16", "ACBD")
    with pytest.raises(ValueError, match="needs 2 registers"):
        decode([1], "float32")
    with pytest.raises(ValueError, match="length"):
        register_count("string")


CANONICAL = [
    ("modbus://PLC1/1/hr/100", "modbus://PLC1/1/hr/100"),
    ("modbus://PLC1/1/hr/100?type=uint16&order=ABCD", "modbus://PLC1/1/hr/100"),
    (
        "modbus://PLC1/1/holding/100?order=cdab&type=Float32",
        "modbus://PLC1/1/hr/100?type=float32&order=CDAB",
    ),
    ("modbus://PLC1/1/coil/7", "modbus://PLC1/1/co/7"),
    ("modbus://PLC1/1/co/7?type=bool", "modbus://PLC1/1/co/7"),
    ("modbus://PLC1/1/discrete/12", "modbus://PLC1/1/di/12"),
    ("modbus://PLC1/3/input/0?type=int16", "modbus://PLC1/3/ir/0?type=int16"),
    ("modbus://PLC1/1/hr/120.3", "modbus://PLC1/1/hr/120.3"),
    ("modbus://PLC1/1/hr/120.3?type=bool", "modbus://PLC1/1/hr/120.3"),
    ("modbus://PLC1/01/hr/0100", "modbus://PLC1/1/hr/100"),
    ("modbus://PLC1/1/hr/200?len=8&type=string", "modbus://PLC1/1/hr/200?type=string&len=8"),
    (
        "modbus://PLC1/1/hr/300?type=float64&order=DCBA",
        "modbus://PLC1/1/hr/300?type=float64&order=DCBA",
    ),
    ("modbus://10.0.0.5:502/3/ir/0", "modbus://10.0.0.5:502/3/ir/0"),
    ("MODBUS://PLC1/255/hr/65535", "modbus://PLC1/255/hr/65535"),
    # Modicon 1-based references, 6 and 5 digits
    ("modbus://PLC1/1/400101", "modbus://PLC1/1/hr/100"),
    ("modbus://PLC1/1/40101", "modbus://PLC1/1/hr/100"),
    ("modbus://PLC1/1/300001?type=int16", "modbus://PLC1/1/ir/0?type=int16"),
    ("modbus://PLC1/1/100013", "modbus://PLC1/1/di/12"),
    ("modbus://PLC1/1/00008", "modbus://PLC1/1/co/7"),
    ("modbus://PLC1/1/465536", "modbus://PLC1/1/hr/65535"),
    ("modbus://PLC1/1/400121.3", "modbus://PLC1/1/hr/120.3"),
]


@pytest.mark.parametrize(("text", "canonical"), CANONICAL)
def test_canonical_form_is_stable(text: str, canonical: str) -> None:
    address = parse_address(text)
    assert str(address) == canonical
    assert str(parse_address(str(address))) == canonical
    assert modbus_address(parse_address(canonical)) == modbus_address(address)


def test_modbus_address_fields() -> None:
    assert modbus_address(parse_address("modbus://P/2/hr/100?type=float32&order=CDAB")) == (
        ModbusAddress(2, "hr", 100, None, "float32", "CDAB", 0)
    )
    bit = modbus_address(parse_address("modbus://P/1/hr/120.3"))
    assert (bit.table, bit.offset, bit.bit, bit.dtype, bit.count) == ("hr", 120, 3, "bool", 1)
    text = modbus_address(parse_address("modbus://P/1/hr/5?type=string&len=4"))
    assert (text.count, text.end) == (4, 9)
    coil = modbus_address(parse_address("modbus://P/1/co/7"))
    assert coil.is_bits and coil.dtype == "bool"


BAD = [
    ("modbus://PLC1/1/hr/100?type=flaot32", "unknown type 'flaot32' (expected one of bool, int16"),
    ("modbus://PLC1/1/hr/100?order=ACBD", "unknown order 'ACBD' (expected one of ABCD, CDAB"),
    (
        "modbus://PLC1/1/hr/100?scale=2",
        "unknown query key 'scale' (expected one of type, order, len)",
    ),
    ("modbus://PLC1/1/xx/100", "unknown table 'xx' (expected one of co, di, ir, hr)"),
    ("modbus://PLC1/256/hr/1", "unit 256 is out of range (0..255)"),
    ("modbus://PLC1/x/hr/1", "unit 'x' must be a number"),
    ("modbus://PLC1/1/hr/65536", "offset 65536 is out of range (0..65535)"),
    ("modbus://PLC1/1/hr/-1", "offset '-1' must be a number"),
    ("modbus://PLC1/1/hr/1.16", "bit 16 is out of range (0..15)"),
    ("modbus://PLC1/1/co/1.2", "a bit number applies to registers"),
    ("modbus://PLC1/1/co/7?type=float32", "type float32 does not fit a coil"),
    ("modbus://PLC1/1/di/7?type=int16", "type int16 does not fit a discrete input"),
    ("modbus://PLC1/1/hr/7.1?type=int16", "type int16 does not fit a register bit"),
    ("modbus://PLC1/1/co/7?order=CDAB", "order does not apply to co"),
    ("modbus://PLC1/1/hr/200?type=string", "type string needs len="),
    ("modbus://PLC1/1/hr/200?type=string&len=0", "len must be 1..123"),
    ("modbus://PLC1/1/hr/200?type=string&len=200", "len 200 is out of range"),
    ("modbus://PLC1/1/hr/200?len=2", "len applies to type string only"),
    ("modbus://PLC1/1/hr/65535?type=float32", "runs past register 65535"),
    ("modbus://PLC1/1/hr/65533?type=uint64", "runs past register 65535"),
    ("modbus://PLC1/1/hr/65530?type=string&len=8", "runs past register 65535"),
    ("modbus://PLC1/1/hr", "expected path /<unit>/<table>/<offset>"),
    ("modbus://PLC1/1/hr/1/2", "expected path /<unit>/<table>/<offset>"),
    ("modbus://PLC1", "expected path /<unit>/<table>/<offset>"),
    ("modbus://PLC1/1/200001", "Modicon reference such as 400101"),
    ("modbus://PLC1/1/4001", "Modicon reference such as 400101"),
    ("modbus://PLC1/1/400000", "Modicon reference 400000 is out of range"),
    ("modbus://PLC1/1/465537", "Modicon reference 465537 is out of range"),
    ("modbus://PLC1/1/hr/1#x", "has no '#member'"),
    ("opcua://PLC1/1/hr/1", "not a modbus address"),
    ("PLC1/1/hr/1", "expected scheme://device/path"),
]


@pytest.mark.parametrize(("text", "fragment"), BAD)
def test_bad_addresses_say_what_is_wrong(text: str, fragment: str) -> None:
    with pytest.raises(AddressError) as info:
        parse_address(text)
    assert fragment in str(info.value)
    assert info.value.address == text

"""Modbus read planning: fewest blocks within limits and gaps, and decoding a block's members."""

from __future__ import annotations

import math

import pytest

from drivers.modbus.codec import ModbusAddress, encode, modbus_address, parse_address
from drivers.modbus.plan import Block, DecodeFailure, extract, plan, write_request


def member(text: str) -> tuple[str, ModbusAddress]:
    address = parse_address("modbus://P/" + text)
    return address.key, modbus_address(address)


def spans(blocks: list[Block]) -> list[tuple[int, str, int, int]]:
    return [(b.unit, b.table, b.start, b.count) for b in blocks]


def test_contiguous_registers_use_ceil_n_over_125_reads() -> None:
    points = [member(f"1/hr/{i}") for i in range(1000)]
    blocks = plan(points)
    assert len(blocks) == math.ceil(1000 / 125)
    assert all(b.count <= 125 for b in blocks)
    assert sorted(k for b in blocks for k, _ in b.members) == sorted(k for k, _ in points)


def test_groups_by_unit_and_table_and_sorts() -> None:
    points = [member(t) for t in ["2/hr/5", "1/hr/7", "1/ir/5", "1/hr/3", "1/co/4", "1/di/4"]]
    assert spans(plan(points)) == [
        (1, "co", 4, 1),
        (1, "di", 4, 1),
        (1, "hr", 3, 5),
        (1, "ir", 5, 1),
        (2, "hr", 5, 1),
    ]


def test_gaps_merge_up_to_max_gap_only() -> None:
    points = [member("1/hr/0"), member("1/hr/17"), member("1/hr/40")]
    # gap 0->17 is 16 registers (1..16), 17->40 is 22
    assert spans(plan(points, max_gap=16)) == [(1, "hr", 0, 18), (1, "hr", 40, 1)]
    assert spans(plan(points, max_gap=15)) == [(1, "hr", 0, 1), (1, "hr", 17, 1), (1, "hr", 40, 1)]
    assert spans(plan(points, max_gap=0)) == [(1, "hr", 0, 1), (1, "hr", 17, 1), (1, "hr", 40, 1)]
    assert spans(plan(points, max_gap=100)) == [(1, "hr", 0, 41)]


def test_bit_tables_use_bit_limits_and_gaps() -> None:
    coils = [member(f"1/co/{i * 10}") for i in range(300)]  # 0..2990
    blocks = plan(coils, max_bit_gap=64)
    assert [b.count for b in blocks] == [1991, 991]
    assert spans(plan([member("1/co/0"), member("1/co/65")], max_bit_gap=64)) == [(1, "co", 0, 66)]
    assert len(plan([member("1/co/0"), member("1/co/66")], max_bit_gap=64)) == 2


def test_multi_register_values_are_never_split() -> None:
    points = [member(f"1/hr/{i * 2}?type=float32") for i in range(100)]  # 200 registers
    blocks = plan(points)
    assert [b.count for b in blocks] == [124, 76]
    for block in blocks:
        for _, address in block.members:
            assert block.start <= address.offset and address.end <= block.end


def test_bits_of_one_register_share_it_and_overlaps_merge() -> None:
    points = [
        member("1/hr/10.0"),
        member("1/hr/10.15"),
        member("1/hr/10"),
        member("1/hr/9?type=uint32"),
    ]
    blocks = plan(points)
    assert spans(blocks) == [(1, "hr", 9, 2)]
    assert len(blocks[0].members) == 4


def test_respects_smaller_device_limits() -> None:
    points = [member(f"1/hr/{i}") for i in range(50)]
    assert [b.count for b in plan(points, max_registers=20)] == [20, 20, 10]
    coils = [member(f"1/co/{i}") for i in range(50)]
    assert [b.count for b in plan(coils, max_bits=16)] == [16, 16, 16, 2]


def test_a_value_larger_than_the_limit_gets_its_own_block() -> None:
    points = [member("1/hr/0?type=string&len=30"), member("1/hr/30")]
    assert spans(plan(points, max_registers=20)) == [(1, "hr", 0, 30), (1, "hr", 30, 1)]


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="max_registers"):
        plan([], max_registers=126)
    with pytest.raises(ValueError, match="max_bits"):
        plan([], max_bits=2001)
    with pytest.raises(ValueError, match="max_gap"):
        plan([], max_gap=-1)


def test_extract_decodes_each_member() -> None:
    points = [
        member("1/hr/0?type=int16"),
        member("1/hr/1?type=float32&order=CDAB"),
        member("1/hr/3.2"),
        member("1/hr/3.9?order=BADC"),
        member("1/hr/4?type=string&len=2"),
    ]
    (block,) = plan(points)
    registers = [
        *encode(-7, "int16"),
        *encode(2.5, "float32", "CDAB"),
        0b100,
        *encode("Hi!", "string", length=2),
    ]
    values = dict(extract(block, registers))
    assert values == {
        points[0][0]: -7,
        points[1][0]: 2.5,
        points[2][0]: True,
        points[3][0]: False,  # bit 9 after the byte swap is bit 1 of the raw register
        points[4][0]: "Hi!",
    }
    swapped = dict(extract(block, [0, 0, 0, 0x0002, 0, 0]))  # raw bit 1 = bit 9 swapped
    assert swapped[points[3][0]] is True


def test_extract_bits_and_short_answers() -> None:
    points = [member("1/co/3"), member("1/co/5")]
    (block,) = plan(points)
    padded = [True, False, True, False, False, False, False, False]  # bit responses pad to 8
    assert dict(extract(block, padded)) == {points[0][0]: True, points[1][0]: True}
    with pytest.raises(ValueError, match="short answer"):
        extract(block, [True])


def test_extract_marks_undecodable_members() -> None:
    points = [member("1/hr/0?type=float32")]
    block = Block(1, "hr", 0, 1, points)  # inconsistent on purpose: 1 register for a float32
    ((key, value),) = extract(block, [1])
    assert key == points[0][0]
    assert isinstance(value, DecodeFailure)


def test_read_request_names_the_client_call() -> None:
    (block,) = plan([member("3/ir/7"), member("3/ir/9")])
    assert block.read_request() == (
        "read_input_registers",
        {"address": 7, "count": 3, "device_id": 3},
    )
    assert block.describe() == "unit 3 ir 7..9"


@pytest.mark.parametrize(
    ("text", "value", "expected"),
    [
        ("1/co/3", True, ("write_coil", {"address": 3, "device_id": 1, "value": True})),
        ("1/co/3", 0, ("write_coil", {"address": 3, "device_id": 1, "value": False})),
        ("2/hr/5", 7, ("write_register", {"address": 5, "device_id": 2, "value": 7})),
        (
            "1/hr/5?type=int16",
            -2,
            ("write_register", {"address": 5, "device_id": 1, "value": 0xFFFE}),
        ),
        (
            "1/hr/10?type=float32&order=CDAB",
            1.5,
            ("write_registers", {"address": 10, "device_id": 1, "values": [0, 0x3FC0]}),
        ),
        (
            "1/hr/20.2",
            True,
            (
                "mask_write_register",
                {"address": 20, "device_id": 1, "and_mask": 0xFFFB, "or_mask": 4},
            ),
        ),
        (
            "1/hr/20.2",
            False,
            (
                "mask_write_register",
                {"address": 20, "device_id": 1, "and_mask": 0xFFFB, "or_mask": 0},
            ),
        ),
        (
            "1/hr/20.2?order=BADC",  # bit 2 of the swapped value is raw bit 10
            True,
            (
                "mask_write_register",
                {"address": 20, "device_id": 1, "and_mask": 0xFBFF, "or_mask": 0x400},
            ),
        ),
    ],
)
def test_write_request_picks_the_function(text: str, value: object, expected: object) -> None:
    assert write_request(member(text)[1], value) == expected


@pytest.mark.parametrize(
    ("text", "value", "fragment"),
    [
        ("1/ir/3", 1, "input registers are read-only"),
        ("1/di/3", True, "discrete inputs are read-only"),
        ("1/hr/3?type=int16", 40000, "out of range for int16"),
        ("1/co/3", 2, "is not a bool"),
        ("1/hr/3?type=string&len=1", "abc", "longer than 2 characters"),
    ],
)
def test_write_request_refuses(text: str, value: object, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        write_request(member(text)[1], value)

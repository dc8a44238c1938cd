"""Sparkplug B payloads and topics (pure), and the host-side edge node tracker."""

from __future__ import annotations

import math
from typing import Any

import pytest

from drivers.base import Quality, Reason
from drivers.mqtt import sparkplug as spb
from drivers.mqtt.edge import REBIRTH_RETRY, EdgeTracker, coerce, command, rebirth_request
from drivers.mqtt.payload import SpbAddress

# one value per data type, chosen to be exact after the round trip (Float is float32)
VALUES: dict[int, list[Any]] = {
    spb.Int8: [-128, -1, 0, 127],
    spb.Int16: [-32768, -2, 32767],
    spb.Int32: [-(2**31), -5, 2**31 - 1],
    spb.Int64: [-(2**63), -7, 2**63 - 1],
    spb.UInt8: [0, 255],
    spb.UInt16: [0, 65535],
    spb.UInt32: [0, 2**32 - 1],
    spb.UInt64: [0, 2**64 - 1],
    spb.Float: [-1.5, 0.0, 2.0**40, 0.15625],
    spb.Double: [-2.5e-300, math.pi, 6.02214076e23],
    spb.Boolean: [True, False],
    spb.String: ["", "Pump-01 ok", "供热站 1"],
    spb.DateTime: [0, 1700000000123],
    spb.Text: ["line 1\nline 2"],
    spb.UUID: ["123e4567-e89b-12d3-a456-426614174000"],
    spb.DataSet: [
        spb.DataSetValue(
            ["t", "ok", "name", "big", "f"],
            [spb.Int32, spb.Boolean, spb.String, spb.Int64, spb.Double],
            [[-1, True, "a", -(2**40), 0.5], [2, False, "b", 2**40, -0.25]],
        )
    ],
    spb.Bytes: [b"", b"\x00\xff\x10"],
    spb.File: [b"%PDF-1.7"],
    spb.Int8Array: [[-23, 123]],
    spb.Int16Array: [[-30000, 30000]],
    spb.Int32Array: [[123456789, -987654321]],
    spb.Int64Array: [[-(2**62), 2**62]],
    spb.UInt8Array: [[0, 255]],
    spb.UInt16Array: [[0, 65535]],
    spb.UInt32Array: [[0, 2**32 - 1]],
    spb.UInt64Array: [[0, 2**64 - 1]],
    spb.FloatArray: [[1.5, -2.25]],
    spb.DoubleArray: [[math.e, -1e300]],
    spb.BooleanArray: [
        [False, False, True, True, False, True, False, False, True, True, False, True]
    ],
    spb.StringArray: [["ABC", "", "你好"]],
    spb.DateTimeArray: [[1700000000000, 0]],
}


@pytest.mark.parametrize("datatype", sorted(VALUES), ids=lambda d: spb.DATATYPE_NAMES[d])
def test_round_trip_every_data_type(datatype: int) -> None:
    metrics = [
        spb.Metric(f"m{i}", i, 1700000000000 + i, datatype, value)
        for i, value in enumerate(VALUES[datatype])
    ]
    metrics.append(spb.Metric("null", 99, None, datatype, None, is_null=True))
    payload = spb.Payload(1700000000999, 17, metrics)
    assert spb.decode(spb.encode(payload)) == payload


def test_every_value_type_is_covered() -> None:
    unsupported = {spb.Unknown, spb.Template, spb.PropertySet, spb.PropertySetList}
    assert set(VALUES) == set(spb.DATATYPE_NAMES) - unsupported


def test_wire_format_matches_the_tahu_schema() -> None:
    # hand-built: timestamp(1)=1, metrics(2)={name(1)="a", alias(2)=3, datatype(4)=3,
    # int_value(10)=5}, seq(3)=2 -- protobuf writes fields in number order
    payload = spb.Payload(1, 2, [spb.Metric("a", 3, None, spb.Int32, 5)])
    assert spb.encode(payload).hex() == "0801" + "1209" + "0a0161100320035005" + "1802"
    # signed integers travel as two's complement in the unsigned field
    minus_one = spb.encode(spb.Payload(None, None, [spb.Metric(None, 1, None, spb.Int8, -1)]))
    assert minus_one.hex().endswith("50ffffffff0f")
    # the 3.0 example for BooleanArray: a 4-byte count, then bits from the high bit down
    packed = spb.encode(
        spb.Payload(
            None, None, [spb.Metric("b", None, None, spb.BooleanArray, VALUES[spb.BooleanArray][0])]
        )
    )
    assert packed.endswith(bytes.fromhex("0c00000034d0"))


def test_a_sign_extended_int8_from_another_implementation_decodes() -> None:
    raw = spb.encode(spb.Payload(None, None, [spb.Metric("x", None, None, spb.UInt32, 0xFFFFFFFE)]))
    raw = raw.replace(bytes([0x20, spb.UInt32]), bytes([0x20, spb.Int8]))  # retype the metric
    assert spb.decode(raw).metrics[0].value == -2


@pytest.mark.parametrize(
    ("datatype", "value", "message"),
    [
        (spb.Int8, 128, "out of range"),
        (spb.UInt16, -1, "out of range"),
        (spb.Int32, 1.5, "needs an integer"),
        (spb.Int32, True, "needs an integer"),
        (spb.Boolean, 1, "True or False"),
        (spb.String, 5, "needs text"),
        (spb.Double, "1", "needs a number"),
        (spb.Bytes, "x", "needs bytes"),
        (spb.Int16Array, [1, 70000], "Int16Array"),
        (spb.StringArray, ["a\0b"], "without NUL"),
        (spb.Template, {}, "cannot encode Template"),
    ],
)
def test_encode_refuses_values_that_do_not_fit(datatype: int, value: Any, message: str) -> None:
    with pytest.raises(spb.SparkplugError, match=message):
        spb.encode(spb.Payload(None, None, [spb.Metric("m", None, None, datatype, value)]))


@pytest.mark.parametrize(
    "data",
    [
        b'{"a": 1}',
        b"\x0a\x05abc",
        b"\xff" * 8,
        bytes.fromhex("12030a01ff"),
        bytes.fromhex("12057a03ffff00"),
    ],
    ids=["json", "truncated", "garbage", "bad-utf8-name", "bad-utf8-value"],
)
def test_decode_raises_on_malformed_input(data: bytes) -> None:
    with pytest.raises(spb.SparkplugError):
        spb.decode(data)


def test_decode_refuses_a_value_in_the_wrong_field() -> None:
    raw = spb.encode(spb.Payload(None, None, [spb.Metric("x", None, None, spb.String, "hi")]))
    raw = raw.replace(bytes([0x20, spb.String]), bytes([0x20, spb.Double]))
    with pytest.raises(spb.SparkplugError, match="Double value carried in string_value"):
        spb.decode(raw)


def test_data_without_a_data_type_decodes_raw_and_retypes() -> None:
    raw = spb.encode(spb.Payload(None, 1, [spb.Metric(None, 2, None, spb.Int16, -3)]))
    raw = raw.replace(bytes([0x20, spb.Int16]), b"")  # DATA messages may omit the type
    metric = spb.decode(raw).metrics[0]
    assert (metric.datatype, metric.value) == (spb.Unknown, 0xFFFFFFFD)
    assert spb.retype(metric.value, spb.Int16) == -3
    assert spb.retype(b"\x01\x00\x02\x00", spb.UInt16Array) == [1, 2]
    assert spb.retype(1.5, spb.Double) == 1.5
    with pytest.raises(spb.SparkplugError, match="str value for a Float metric"):
        spb.retype("x", spb.Float)


def test_empty_payload_and_unknown_fields_decode() -> None:
    assert spb.decode(b"") == spb.Payload(None, None, [])
    # a metric with properties (field 9) and metadata (field 8) the schema leaves out
    raw = spb.encode(spb.Payload(5, 0, [spb.Metric("x", 1, None, spb.Int32, 7)]))
    extra = bytes.fromhex("4a004200")  # empty PropertySet, empty MetaData
    metric = raw[raw.index(b"\x12") + 2 : raw.index(b"\x18")]
    raw = raw.replace(
        b"\x12" + bytes([len(metric)]) + metric, b"\x12" + bytes([len(metric) + 4]) + metric + extra
    )
    assert spb.decode(raw).metrics[0].value == 7


def test_topics() -> None:
    assert spb.topic("HeatNet", "NBIRTH", "Station1") == "spBv1.0/HeatNet/NBIRTH/Station1"
    assert spb.topic("G", "DDATA", "E", "HS1") == "spBv1.0/G/DDATA/E/HS1"
    assert spb.parse_topic("spBv1.0/G/DDATA/E/HS1") == ("G", "DDATA", "E", "HS1")
    assert spb.parse_topic("spBv1.0/G/NCMD/E") == ("G", "NCMD", "E", None)
    assert spb.state_topic("scada1") == "spBv1.0/STATE/scada1"
    for bad in (
        "spBv1.0/G/DDATA/E",
        "spBv1.0/G/NDATA/E/D",
        "spAv1.0/G/NDATA/E",
        "spBv1.0/G/XX/E",
        "spBv1.0/STATE/h",
    ):
        with pytest.raises(spb.SparkplugError):
            spb.parse_topic(bad)
    for args in (
        ("G", "DDATA", "E"),
        ("G", "NDATA", "E", "D"),
        ("G/x", "NDATA", "E"),
        ("G", "NDATA", "+"),
    ):
        with pytest.raises(spb.SparkplugError):
            spb.topic(*args)


def test_rebirth_request_and_command_payloads() -> None:
    request = spb.decode(rebirth_request(123))
    assert [(m.name, m.datatype, m.value) for m in request.metrics] == [
        (spb.REBIRTH, spb.Boolean, True)
    ]
    where = SpbAddress("G", "E", "D", "SP")
    assert spb.decode(command(where, spb.Float, 21, 5)).metrics[0].value == 21.0
    assert coerce("true", spb.Boolean) is True
    assert coerce(7.0, spb.UInt16) == 7
    with pytest.raises(ValueError, match="whole number"):
        coerce(7.5, spb.Int32)


# --- the edge node tracker ---------------------------------------------------------------------


def birth(seq: int, metrics: list[spb.Metric], bd_seq: int = 0) -> bytes:
    bd = spb.Metric(spb.BD_SEQ, None, None, spb.UInt64, bd_seq)
    return spb.encode(spb.Payload(1000, seq, [bd, *metrics]))


def data(seq: int | None, metrics: list[spb.Metric]) -> bytes:
    return spb.encode(spb.Payload(2000, seq, metrics))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def tracker() -> tuple[EdgeTracker, Clock]:
    clock = Clock()
    t = EdgeTracker("B1", clock)
    nodes = t.set_points(
        {
            "node#Temp": SpbAddress("G", "E", None, "Temp"),
            "dev#TT101": SpbAddress("G", "E", "HS1", "TT101"),
            "dev#TT101 again": SpbAddress("G", "E", "HS1", "TT101"),
            "dev#Pump": SpbAddress("G", "E", "HS1", "Pump"),
        }
    )
    assert nodes == [("G", "E")]
    return t, clock


def values(out: Any) -> dict[str, Any]:
    return {s.key: (s.value, s.quality, s.reason) for s in out.samples}


def test_tracker_births_aliases_and_sequence_wrap() -> None:
    t, _ = tracker()
    out = t.handle(
        "spBv1.0/G/NBIRTH/E", birth(254, [spb.Metric("Temp", 1, 1500, spb.Double, 20.5)])
    )
    assert values(out) == {"node#Temp": (20.5, Quality.GOOD, Reason.NONE)}
    assert out.samples[0].source_ts == 1.5
    dbirth = [
        spb.Metric("TT101", 2, None, spb.Float, 60.0),
        spb.Metric("Pump", 3, None, spb.Boolean, False),
    ]
    out = t.handle("spBv1.0/G/DBIRTH/E/HS1", data(255, dbirth))
    assert values(out)["dev#TT101 again"] == (60.0, Quality.GOOD, Reason.NONE)
    untyped = spb.Metric(None, 2, 3000, spb.Unknown, 61.5)  # DATA leaves the type to the birth
    out = t.handle("spBv1.0/G/DDATA/E/HS1", data(0, [untyped]))
    assert values(out) == {
        k: (61.5, Quality.GOOD, Reason.NONE) for k in ("dev#TT101", "dev#TT101 again")
    }
    assert out.samples[0].source_ts == 3.0 and not out.rebirth
    assert t.datatype(SpbAddress("G", "E", "HS1", "Pump")) == spb.Boolean
    # NCMD/DCMD echoes and other nodes are ignored
    assert values(t.handle("spBv1.0/G/NCMD/E", rebirth_request(1))) == {}
    assert values(t.handle("spBv1.0/G/NDATA/Other", data(1, []))) == {}


def test_tracker_gap_asks_for_rebirth_once_and_marks_uncertain() -> None:
    t, clock = tracker()
    t.handle("spBv1.0/G/NBIRTH/E", birth(0, [spb.Metric("Temp", 1, None, spb.Double, 20.5)]))
    out = t.handle("spBv1.0/G/NDATA/E", data(5, [spb.Metric(None, 1, None, spb.Double, 21.0)]))
    assert out.rebirth == [("G", "E")] and "expected 1" in out.error
    assert values(out) == {"node#Temp": (20.5, Quality.UNCERTAIN, Reason.STALE)}
    # more data before the new birth: no second request (until REBIRTH_RETRY), nothing decoded
    out = t.handle("spBv1.0/G/NDATA/E", data(6, [spb.Metric(None, 1, None, spb.Double, 22.0)]))
    assert out.rebirth == [] and out.samples == []
    clock.now += REBIRTH_RETRY
    assert t.handle("spBv1.0/G/NDATA/E", data(7, [])).rebirth == [("G", "E")]
    out = t.handle("spBv1.0/G/NBIRTH/E", birth(0, [spb.Metric("Temp", 1, None, spb.Double, 23.0)]))
    assert values(out) == {"node#Temp": (23.0, Quality.GOOD, Reason.NONE)}


def test_tracker_data_before_birth_and_garbage_ask_for_rebirth() -> None:
    t, _ = tracker()
    out = t.handle("spBv1.0/G/DDATA/E/HS1", data(3, [spb.Metric(None, 2, None, spb.Float, 1.0)]))
    assert out.rebirth == [("G", "E")] and out.samples == []
    t2, _ = tracker()
    out = t2.handle("spBv1.0/G/NDATA/E", b"\xff\xff")
    assert out.rebirth == [("G", "E")] and "not a Sparkplug B payload" in out.error


def test_tracker_deaths() -> None:
    t, _ = tracker()
    t.handle(
        "spBv1.0/G/NBIRTH/E", birth(0, [spb.Metric("Temp", 1, None, spb.Double, 20.5)], bd_seq=4)
    )
    t.handle("spBv1.0/G/DBIRTH/E/HS1", data(1, [spb.Metric("TT101", 2, None, spb.Float, 60.0)]))
    out = t.handle("spBv1.0/G/DDEATH/E/HS1", data(2, []))
    assert values(out) == {
        k: (None, Quality.BAD, Reason.COMM_FAILURE)
        for k in ("dev#TT101", "dev#TT101 again", "dev#Pump")
    }
    stale = spb.encode(spb.Payload(None, None, [spb.Metric(spb.BD_SEQ, None, None, spb.UInt64, 3)]))
    assert values(t.handle("spBv1.0/G/NDEATH/E", stale)) == {}  # an older session's will
    death = spb.encode(spb.Payload(None, None, [spb.Metric(spb.BD_SEQ, None, None, spb.UInt64, 4)]))
    out = t.handle("spBv1.0/G/NDEATH/E", death)
    assert {k for k, v in values(out).items() if v == (None, Quality.BAD, Reason.COMM_FAILURE)} == {
        "node#Temp",
        "dev#TT101",
        "dev#TT101 again",
        "dev#Pump",
    }

"""OPC UA pure parts: `opcua://` addresses, quality mapping, members, write typing, options."""

from __future__ import annotations

import datetime
import math
from typing import Any

import pytest
from asyncua import ua

from drivers import driver_class
from drivers.address import AddressError
from drivers.base import DeviceConfig, DriverError, Point, Quality, Reason
from drivers.opcua.connect import Options, first_certificate
from drivers.opcua.driver import OpcUaDriver
from drivers.opcua.nodeid import NodeRef, format_duration, opcua_address, parse_address
from drivers.opcua.plan import plan
from drivers.opcua.values import MemberError, member_of, plain, quality_of, timestamp, to_variant

CANONICAL = [
    # (input, canonical text)
    ("opcua://UA1/ns=2;s=Substation1.TT101", "opcua://UA1/ns=2;s=Substation1.TT101"),
    ("opcua://UA1/ns=0;i=2258", "opcua://UA1/i=2258"),
    ("opcua://UA1/ns=3;i=1002?mode=poll&interval=1000ms", "opcua://UA1/ns=3;i=1002?mode=poll&interval=1s"),
    ("opcua://UA1/ns=3;i=1002?interval=0.25&mode=sub", "opcua://UA1/ns=3;i=1002?interval=250ms"),
    ("opcua://UA1/ns=2;s=P1?deadband=0.20&interval=2s", "opcua://UA1/ns=2;s=P1?interval=2s&deadband=0.2"),
    ("opcua://UA1/ns=2;s=P1?deadband=0", "opcua://UA1/ns=2;s=P1"),
    ("opcua://UA1/nsu=urn:plant:hs1;s=TT101", "opcua://UA1/nsu=urn:plant:hs1;s=TT101"),
    # a namespace URI with slashes, and slashes in a string identifier
    ("opcua://UA1/nsu=http://x.org/UA/DI/;i=5", "opcua://UA1/nsu=http://x.org/UA/DI/;i=5"),
    ("opcua://UA1/ns=2;s=Line/Pump 1/Speed", "opcua://UA1/ns=2;s=Line/Pump%201/Speed"),
    ("opcua://UA1/ns=2;s=HS1.Pump1.Status#Running", "opcua://UA1/ns=2;s=HS1.Pump1.Status#Running"),
    ("opcua://UA1/i=2256#BuildInfo.ProductName", "opcua://UA1/i=2256#BuildInfo.ProductName"),
    ("opcua://UA1/ns=2;s=Temps#3", "opcua://UA1/ns=2;s=Temps#3"),
    # '#', '?' and '%' inside an identifier are percent-encoded
    ("opcua://UA1/ns=2;s=Tank%231%3F", "opcua://UA1/ns=2;s=Tank%231%3F"),
    ("opcua://UA1/ns=2;s=50%25", "opcua://UA1/ns=2;s=50%25"),
    ("opcua://UA1/ns=1;g=09087E75-8E5E-499B-954F-F2A9603DB28A", "opcua://UA1/ns=1;g=09087e75-8e5e-499b-954f-f2a9603db28a"),
    ("opcua://UA1/ns=1;b=aGVsbG8=", "opcua://UA1/ns=1;b=aGVsbG8="),
    ("OPCUA://UA1/ns=2;s=A", "opcua://UA1/ns=2;s=A"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "canonical"), CANONICAL)
def test_canonical_round_trip(text: str, canonical: str) -> None:
    address = parse_address(text)
    assert str(address) == canonical
    assert parse_address(str(address)) == address  # stable


def test_raw_unicode_names_are_accepted_and_round_trip() -> None:
    address = parse_address("opcua://UA1/ns=2;s=一号站.泵1#运行")
    where = opcua_address(address)
    assert where.node == NodeRef(2, "s", "一号站.泵1")
    assert where.member == ("运行",)
    assert parse_address(str(address)) == address


def test_parsed_parts() -> None:
    where = opcua_address(parse_address("opcua://UA1/nsu=urn:a;i=7?mode=poll&interval=2s#Values.2"))
    assert where.node == NodeRef("urn:a", "i", 7)
    assert (where.mode, where.interval, where.deadband) == ("poll", 2.0, 0.0)
    assert where.member == ("Values", 2)
    assert opcua_address(parse_address("opcua://UA1/ns=2;s=a;b=c")).node.identifier == "a;b=c"


BAD = [
    ("opcua://UA1/", "missing NodeId"),
    ("opcua://UA1/Temperature", "expected a NodeId like ns=2;s=Name"),
    ("opcua://UA1/ns=2", "expected ';' and an identifier after 'ns=2'"),
    ("opcua://UA1/ns=x;s=a", "namespace index 'x' is not a number 0..65535"),
    ("opcua://UA1/ns=70000;s=a", "namespace index '70000'"),
    ("opcua://UA1/ns=2;nsu=urn:a;s=b", "give the namespace once"),
    ("opcua://UA1/ns=2;x=5", "identifier types: i= numeric"),
    ("opcua://UA1/ns=2;i=-1", "numeric identifier '-1' is not a number"),
    ("opcua://UA1/ns=2;i=4294967296", "is not a number 0..4294967295"),
    ("opcua://UA1/ns=2;s=", "empty string identifier"),
    ("opcua://UA1/ns=2;g=xyz", "bad GUID 'xyz'"),
    ("opcua://UA1/ns=2;b=!!", "bad ByteString identifier"),
    ("opcua://UA1/nsu=;s=a", "empty namespace URI"),
    ("opcua://UA1/ns=2;s=Tank#1 level", "'#' inside a NodeId must be written %23"),
    ("opcua://UA1/ns=2;s=What?now", "'?' inside a NodeId must be written %3F"),
    ("opcua://UA1/ns=2;s=A?mode=push", "unknown mode 'push' (expected sub or poll)"),
    ("opcua://UA1/ns=2;s=A?rate=1s", "unknown query key 'rate'"),
    ("opcua://UA1/ns=2;s=A?interval=fast", "interval: bad duration 'fast'"),
    ("opcua://UA1/ns=2;s=A?interval=0", "must be above zero"),
    ("opcua://UA1/ns=2;s=A?deadband=-1", "deadband '-1' must be a number >= 0"),
    ("opcua://UA1/ns=2;s=A?deadband=x", "deadband 'x' must be a number >= 0"),
    ("opcua://UA1/ns=2;s=A?mode=poll&deadband=1", "use it with mode=sub"),
    ("opcua://UA1/ns=2;s=A#", "is not a member"),
    ("opcua://UA1/ns=2;s=A#a..b", "is not a member"),
    ("modbus://UA1/ns=2;s=A", "not an OPC UA address"),
]


@pytest.mark.parametrize(("text", "fragment"), BAD)
def test_bad_addresses_say_what_is_wrong(text: str, fragment: str) -> None:
    with pytest.raises(AddressError) as info:
        parse_address(text)
    assert fragment in str(info.value)
    assert str(info.value).startswith(text.split("#", maxsplit=1)[0][:10])


def test_driver_class_level_api() -> None:
    cls = driver_class("opcua")
    assert cls is OpcUaDriver
    address = cls.parse("opcua://UA1/ns=2;s=A?mode=poll")
    assert cls.natural_type(address) == "float"
    assert set(cls.OPTIONS) >= {
        "endpoint",
        "security",
        "mode",
        "username",
        "publishing_interval",
        "sampling_interval",
        "queue_size",
        "reconnect_min",
        "reconnect_max",
    }


def test_format_duration() -> None:
    assert [format_duration(s) for s in (1.0, 60.0, 0.25, 1.5, 0.0005)] == [
        "1s",
        "60s",
        "250ms",
        "1500ms",
        "0.5ms",
    ]


def test_quality_mapping() -> None:
    codes = ua.StatusCodes
    assert quality_of(codes.Good) == (Quality.GOOD, Reason.NONE)
    assert quality_of(codes.Good | 0x0400) == (Quality.GOOD, Reason.NONE)  # info bits ignored
    assert quality_of(codes.Uncertain) == (Quality.UNCERTAIN, Reason.DEVICE_ERROR)
    assert quality_of(codes.UncertainLastUsableValue) == (Quality.UNCERTAIN, Reason.STALE)
    assert quality_of(codes.UncertainEngineeringUnitsExceeded)[1] == Reason.OUT_OF_RANGE
    assert quality_of(codes.BadDeviceFailure) == (Quality.BAD, Reason.DEVICE_ERROR)
    for comm in ("BadCommunicationError", "BadServerNotConnected", "BadNoCommunication"):
        assert quality_of(getattr(codes, comm)) == (Quality.BAD, Reason.COMM_FAILURE)
    assert quality_of(codes.BadTimeout) == (Quality.BAD, Reason.TIMEOUT)
    assert quality_of(codes.BadNodeIdUnknown) == (Quality.BAD, Reason.CONFIG_ERROR)
    assert quality_of(codes.BadWaitingForInitialData) == (Quality.BAD, Reason.INITIAL)


def test_timestamps() -> None:
    when = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    assert timestamp(ua.DataValue(1.0, SourceTimestamp=when)) == when.timestamp()
    assert timestamp(ua.DataValue(1.0, ServerTimestamp=when)) == when.timestamp()  # fallback
    assert timestamp(ua.DataValue(1.0, SourceTimestamp=when.replace(tzinfo=None))) == (
        when.timestamp()
    )
    assert timestamp(ua.DataValue(1.0)) is None


def test_members_and_plain_values() -> None:
    status = ua.ServerStatusDataType(
        State=ua.ServerState.Running, BuildInfo=ua.BuildInfo(ProductName="PLC")
    )
    assert plain(member_of(status, ("State",))) == 0
    assert member_of(status, ("BuildInfo", "ProductName")) == "PLC"
    assert member_of([1.0, 2.0, 3.0], (2,)) == 3.0
    assert member_of({"a": [0, {"b": 5}]}, ("a", 1, "b")) == 5
    with pytest.raises(MemberError, match="only 3 elements"):
        member_of([1, 2, 3], (3,))
    with pytest.raises(MemberError, match="no such field"):
        member_of(status, ("Nope",))
    assert plain(ua.LocalizedText("Pumpe")) == "Pumpe"
    assert plain([ua.QualifiedName("A", 2)]) == ["A"]
    assert plain(ua.NodeId("x", 2)) == "ns=2;s=x"


WRITES: list[tuple[Any, ua.VariantType, bool | None, Any]] = [
    (3.0, ua.VariantType.Int16, False, 3),
    ("-7", ua.VariantType.Int16, False, -7),
    (True, ua.VariantType.Boolean, False, True),
    (0, ua.VariantType.Boolean, False, False),
    ("true", ua.VariantType.Boolean, False, True),
    (2, ua.VariantType.Double, False, 2.0),
    (1.5, ua.VariantType.Float, False, 1.5),
    (12, ua.VariantType.String, False, "12"),
    (255, ua.VariantType.Byte, False, 255),
    ([1, 2], ua.VariantType.Double, True, [1.0, 2.0]),
    (5, ua.VariantType.Variant, None, 5),  # abstract type: inferred
]


@pytest.mark.parametrize(("value", "vtype", "array", "expected"), WRITES)
def test_write_values_take_the_node_type(
    value: Any, vtype: ua.VariantType, array: bool | None, expected: Any
) -> None:
    variant = to_variant(value, vtype, array)
    assert variant.Value == expected
    assert type(variant.Value) is type(expected)
    if vtype != ua.VariantType.Variant:
        assert variant.VariantType == vtype


@pytest.mark.parametrize(
    ("value", "vtype", "array", "fragment"),
    [
        (3.5, ua.VariantType.Int16, False, "3.5 is not an integer for Int16"),
        (40000, ua.VariantType.Int16, False, "out of range for Int16 (-32768..32767)"),
        (-1, ua.VariantType.UInt32, False, "out of range for UInt32"),
        (1e39, ua.VariantType.Float, False, "out of range for Float"),
        ("x", ua.VariantType.Double, False, "'x' is not a number for Double"),
        (2, ua.VariantType.Boolean, False, "is not a Boolean"),
        (1.0, ua.VariantType.Double, True, "holds an array of Double"),
        ([1.0], ua.VariantType.Double, False, "not an array"),
        (1, ua.VariantType.Guid, False, "writing Guid nodes is not supported"),
    ],
)
def test_write_values_that_do_not_fit(
    value: Any, vtype: ua.VariantType, array: bool | None, fragment: str
) -> None:
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        to_variant(value, vtype, array)


def _device(**options: Any) -> DeviceConfig:
    return DeviceConfig("UA1", "opcua", "10.0.0.6", 0, 1.0, options)


def test_options_defaults_and_validation() -> None:
    options = Options.of(_device())
    assert options.endpoint == "opc.tcp://10.0.0.6:4840"
    assert (options.security, options.mode, options.username) == ("None", "SignAndEncrypt", "")
    assert (options.publishing_interval, options.sampling_interval, options.queue_size) == (
        0.5,
        None,
        1,
    )
    options = Options.of(_device(endpoint="opc.tcp://h:4841/ua/", publishing_interval="250ms"))
    assert (options.endpoint, options.publishing_interval) == ("opc.tcp://h:4841/ua/", 0.25)
    for bad, fragment in [
        ({"security": "Basic128"}, "expected one of None, Basic256Sha256"),
        ({"mode": "Encrypt"}, "expected Sign or SignAndEncrypt"),
        ({"endpoint": "http://x"}, "expected an opc.tcp:// URL"),
        ({"queue_size": 0}, "whole number above zero"),
        ({"publishing_interval": "soon"}, "bad duration"),
        ({"reconnect_min": 5, "reconnect_max": 1}, "reconnect_max must not be below"),
        ({"colour": "red"}, "unknown option 'colour'"),
    ]:
        with pytest.raises(DriverError, match=fragment):
            Options.of(_device(**bad))


def test_plan_shares_one_item_per_node_and_picks_intervals() -> None:
    options = Options.of(_device(publishing_interval=0.5))
    points = [
        Point(parse_address("opcua://UA1/i=2256#State"), 1.0),
        Point(parse_address("opcua://UA1/i=2256#BuildInfo.ProductName"), 0.2),
        Point(parse_address("opcua://UA1/ns=2;s=A?interval=100ms"), 1.0),
        Point(parse_address("opcua://UA1/ns=2;s=B?mode=poll"), 2.0),
    ]
    items, bad = plan(points, options)
    assert not bad
    status = items["opcua://UA1/i=2256"]
    assert set(status.points.values()) == {("State",), ("BuildInfo", "ProductName")}
    assert (status.interval, status.publishing) == (0.2, 0.2)  # the faster scan wins
    fast = items["opcua://UA1/ns=2;s=A?interval=100ms"]
    assert (fast.interval, fast.publishing) == (0.1, 0.1)
    assert items["opcua://UA1/ns=2;s=B?mode=poll"].interval == 2.0
    sampled = Options.of(_device(sampling_interval="2s"))
    items, _ = plan([Point(parse_address("opcua://UA1/ns=2;s=C"), 1.0)], sampled)
    assert (items["opcua://UA1/ns=2;s=C"].interval, items["opcua://UA1/ns=2;s=C"].publishing) == (
        2.0,
        0.5,
    )


def test_first_certificate_of_a_chain() -> None:
    one = bytes([0x30, 0x82, 0x00, 0x03, 1, 2, 3])
    assert first_certificate(one + bytes([0x30, 0x01, 9])) == one
    assert first_certificate(bytes([0x30, 0x02, 1, 2, 0x30])) == bytes([0x30, 0x02, 1, 2])
    assert math.isfinite(len(first_certificate(b"")))

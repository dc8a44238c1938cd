"""mqtt:// and spb:// addresses, JSON pointers, timestamps, qualities, plain payloads, wildcards."""

from __future__ import annotations

import json
from typing import Any

import pytest

from drivers.address import AddressError
from drivers.base import Quality, Reason
from drivers.mqtt.driver import MqttDriver
from drivers.mqtt.payload import (
    DecodeFailure,
    MqttAddress,
    SpbAddress,
    cover,
    decode_json_point,
    encode_write,
    mqtt_address,
    plain_value,
    quality,
    resolve,
    spb_address,
    timestamp,
)

CANONICAL = [
    # (given, canonical)
    ("mqtt://BROKER1/site/hs1/TT101", "mqtt://BROKER1/site/hs1/TT101"),
    ("MQTT://BROKER1/site/hs1/state#/TT101/v", "mqtt://BROKER1/site/hs1/state#/TT101/v"),
    ("mqtt://B/s?payload=json#/a", "mqtt://B/s#/a"),  # json is the default with a pointer
    ("mqtt://B/s?payload=auto", "mqtt://B/s"),  # auto is the default without
    ("mqtt://B/s?payload=json", "mqtt://B/s?payload=json"),
    ("mqtt://B/s?set=s/set&qos=0&payload=text", "mqtt://B/s?payload=text&qos=0&set=s/set"),
    (
        "mqtt://B/site/hs1/state?quality=/TT101/q&ts=/TT101/ts#/TT101/v",
        "mqtt://B/site/hs1/state?ts=/TT101/ts&quality=/TT101/q#/TT101/v",
    ),
    # raw Unicode stays readable in the canonical form (Chinese topics)
    ("mqtt://B/站点/一号#/温度", "mqtt://B/站点/一号#/温度"),
    ("mqtt://B/%E7%AB%99%E7%82%B9#/x", "mqtt://B/站点#/x"),
    ("mqtt://B/s#/a~1b/0", "mqtt://B/s#/a~1b/0"),
    ("mqtt://B/s#", "mqtt://B/s#"),  # the whole JSON document
    ("spb://B/HeatNet/Station1/HS1#TT101", "spb://B/HeatNet/Station1/HS1#TT101"),
    (
        "spb://B/HeatNet/Station1#Node Control/Rebirth",
        "spb://B/HeatNet/Station1#Node%20Control/Rebirth",
    ),
]


@pytest.mark.parametrize(("given", "canonical"), CANONICAL)
def test_canonical_form_is_stable(given: str, canonical: str) -> None:
    address = MqttDriver.parse(given)
    assert str(address) == canonical
    assert str(MqttDriver.parse(canonical)) == canonical


ERRORS = [
    ("mqtt://B/site/+/TT101", "is a filter"),
    ("mqtt://B/site/%23", "is a filter"),
    ("mqtt://B/", "missing topic"),
    ("mqtt://B/s?payload=xml", "unknown payload 'xml'"),
    ("mqtt://B/s?payload=text#/a", "needs payload=json"),
    ("mqtt://B/s#a", "must be a JSON pointer"),
    ("mqtt://B/s?ts=/t", "needs payload=json"),
    ("mqtt://B/s?quality=q#/v", "must be a JSON pointer"),
    ("mqtt://B/s?qos=3", "qos must be 0, 1 or 2"),
    ("mqtt://B/s?set=a/%2B", "is a filter"),
    ("mqtt://B/s?sett=x", "unknown query key 'sett'"),
    ("spb://B/G#m", "expected spb://BROKER/group/edge_node"),
    ("spb://B/G/E/D/X#m", "expected spb://BROKER/group/edge_node"),
    ("spb://B/G/E", "missing the metric name"),
    ("spb://B/G/E?qos=1#m", "unknown query key"),
    ("spb://B/G/+#m", "not allowed in Sparkplug ids"),
    ("opcua://B/x", "mqtt:// and spb://"),
]


@pytest.mark.parametrize(("text", "message"), ERRORS)
def test_bad_addresses_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(AddressError, match=message.replace("+", r"\+")):
        MqttDriver.parse(text)


def test_decoding_plans() -> None:
    assert mqtt_address(MqttDriver.parse("mqtt://B/a/b")) == MqttAddress("a/b", None, "auto")
    chinese = mqtt_address(MqttDriver.parse("mqtt://B/站点/一号#/温度"))
    assert (chinese.topic, chinese.pointer) == ("站点/一号", "/温度")
    assert mqtt_address(MqttDriver.parse("mqtt://B/a?payload=json")).pointer == ""
    plan = mqtt_address(MqttDriver.parse("mqtt://B/s?ts=/t&quality=/q&qos=2&set=s/w#/v"))
    assert plan == MqttAddress("s", "/v", "json", "/t", "/q", 2, "s/w")
    assert spb_address(MqttDriver.parse("spb://B/G/E#m")) == SpbAddress("G", "E", None, "m")
    assert MqttDriver.natural_type(MqttDriver.parse("mqtt://B/a?payload=text")) == "string"
    assert MqttDriver.natural_type(MqttDriver.parse("mqtt://B/a#/v")) == "float"
    assert MqttDriver.natural_type(MqttDriver.parse("spb://B/G/E#m")) == "float"


def test_json_pointer_rfc6901() -> None:
    doc = json.loads('{"foo": ["bar", "baz"], "": 0, "a/b": 1, "m~n": 8, " ": 7, "k\\"l": 6}')
    assert resolve(doc, "") == doc
    assert resolve(doc, "/foo") == ["bar", "baz"]
    assert resolve(doc, "/foo/0") == "bar"
    assert resolve(doc, "/") == 0
    assert resolve(doc, "/a~1b") == 1
    assert resolve(doc, "/m~0n") == 8
    assert resolve(doc, "/ ") == 7
    assert resolve(doc, '/k"l') == 6
    for missing in ("/foo/2", "/foo/01", "/foo/-", "/nope", "/foo/0/x"):
        with pytest.raises(DecodeFailure, match="no "):
            resolve(doc, missing)


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        (1700000000, 1700000000.0),
        (1700000000.25, 1700000000.25),
        (1700000000123, 1700000000.123),
        (1700000000123456, 1700000000.123456),
        (1700000000123456789, 1700000000.123456789),
        ("1700000000123", 1700000000.123),
        ("2023-11-14T22:13:20Z", 1700000000.0),
        ("2023-11-15T06:13:20.5+08:00", 1700000000.5),
        ("2023-11-14T22:13:20", 1700000000.0),  # no offset: UTC
    ],
)
def test_timestamps(raw: Any, seconds: float) -> None:
    assert timestamp(raw) == pytest.approx(seconds, abs=1e-6)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("good", Quality.GOOD),
        ("GOOD_LocalOverride", Quality.GOOD),
        ("Uncertain", Quality.UNCERTAIN),
        ("BadCommFailure", Quality.BAD),
        (True, Quality.GOOD),
        (False, Quality.BAD),
        (0, Quality.GOOD),  # OPC UA Good
        (192, Quality.GOOD),  # OPC DA good
        (216, Quality.GOOD),  # OPC DA good, local override
        (64, Quality.UNCERTAIN),
        (24, Quality.BAD),  # OPC DA bad, comm failure
        (0x80310000, Quality.BAD),  # OPC UA BadCommunicationError
        (0x40000000, Quality.UNCERTAIN),
        (0x00960000, Quality.GOOD),  # OPC UA GoodLocalOverride
    ],
)
def test_qualities(raw: Any, expected: Quality) -> None:
    assert quality(raw) is expected


def test_bad_timestamps_and_qualities() -> None:
    for raw in ("yesterday", None, True, float("nan")):
        with pytest.raises(DecodeFailure):
            timestamp(raw)
    for raw in ("excellent", -1, 1.5, None):
        with pytest.raises(DecodeFailure):
            quality(raw)


@pytest.mark.parametrize(
    ("payload", "mode", "value"),
    [
        (b"21.5", "auto", 21.5),
        (b" 42\n", "auto", 42),
        (b"-3e2", "auto", -300.0),
        (b"true", "auto", True),
        (b"FALSE", "auto", False),
        (b"running", "auto", "running"),
        ("供热".encode(), "auto", "供热"),
        (b"42", "text", "42"),
        (b"", "text", ""),
        (b"\x00\xff", "raw", b"\x00\xff"),
    ],
)
def test_plain_payloads(payload: bytes, mode: str, value: Any) -> None:
    assert plain_value(payload, mode) == value
    assert type(plain_value(payload, mode)) is type(value)


@pytest.mark.parametrize(
    ("payload", "message"), [(b"", "empty"), (b"\xff", "UTF-8"), (b"inf", "finite")]
)
def test_bad_plain_payloads(payload: bytes, message: str) -> None:
    with pytest.raises(DecodeFailure, match=message):
        plain_value(payload, "auto")


def test_json_points_with_ts_and_quality() -> None:
    doc = {
        "TT101": {"v": 21.5, "ts": 1700000000123, "q": "good"},
        "P1": {"v": 3, "q": 24},
        "X": {"v": None},
    }
    where = mqtt_address(MqttDriver.parse("mqtt://B/s?ts=/TT101/ts&quality=/TT101/q#/TT101/v"))
    d = decode_json_point(doc, where)
    assert (d.value, d.quality, d.reason, d.source_ts, d.error) == (
        21.5,
        Quality.GOOD,
        Reason.NONE,
        1700000000.123,
        "",
    )
    bad = decode_json_point(doc, mqtt_address(MqttDriver.parse("mqtt://B/s?quality=/P1/q#/P1/v")))
    assert (bad.value, bad.quality, bad.reason, bad.error) == (
        None,
        Quality.BAD,
        Reason.DEVICE_ERROR,
        "",
    )
    missing_ts = decode_json_point(
        doc, mqtt_address(MqttDriver.parse("mqtt://B/s?ts=/P1/ts#/P1/v"))
    )
    assert (missing_ts.value, missing_ts.quality, missing_ts.reason) == (
        3,
        Quality.UNCERTAIN,
        Reason.DECODE_ERROR,
    )
    assert "no /P1/ts" in missing_ts.error
    for pointer, message in (("/X/v", "is null"), ("/P1", "JSON dict"), ("/nope", "no /nope")):
        d = decode_json_point(doc, mqtt_address(MqttDriver.parse(f"mqtt://B/s#{pointer}")))
        assert (d.quality, d.reason) == (Quality.BAD, Reason.DECODE_ERROR) and message in d.error


def test_write_payloads() -> None:
    assert [encode_write(v) for v in (True, 42, 21.5, "open", b"\x01")] == [
        b"true",
        b"42",
        b"21.5",
        b"open",
        b"\x01",
    ]
    with pytest.raises(ValueError, match="finite"):
        encode_write(float("inf"))


def test_wildcard_rule() -> None:
    topics = {f"site/hs1/TT{i}": 1 for i in range(30)}
    topics |= {f"site/hs2/pump{i}/state": 0 for i in range(5)}
    topics |= {f"site/hs3/p{i}/x/y": 2 for i in range(25)}
    topics["other"] = 1
    filters = cover(topics, 20)
    assert filters == {
        "site/hs1/#": 1,
        **{f"site/hs2/pump{i}/state": 0 for i in range(5)},
        "site/hs3/#": 2,
        "other": 1,
    }
    assert cover({f"t{i}": 1 for i in range(50)}, 20) == {
        f"t{i}": 1 for i in range(50)
    }  # never '#'
    assert cover(topics, 0) == topics
    assert cover({"a": 1, "a/b": 0}, 2) == {"a/#": 1}

"""Plain and JSON MQTT payloads: the `mqtt://` and `spb://` address grammars, and value decoding.

Pure functions only. Owns ANCHORS-STYLE 5.4 for MQTT: the path is a topic name (never a filter),
the member is an RFC 6901 JSON pointer (`mqtt://`) or a metric name (`spb://`), and the query
says how to decode (`payload`, `ts`, `quality`, `qos`, `set`). Decoding turns one payload into
a value, a source timestamp and a quality per point, with a short error text for points that
cannot be decoded (the driver marks exactly those bad).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import Any

from drivers.address import Address, AddressError, canonical_query, split
from drivers.base import Quality, Reason

PAYLOADS = ("json", "text", "raw", "auto")
_QUERY_ORDER = ("payload", "ts", "quality", "qos", "set")
_MISSING = object()


class DecodeFailure(ValueError):
    """A payload (or a part of it) that cannot be turned into a point's value."""


@dataclass(frozen=True, slots=True)
class MqttAddress:
    """Where an `mqtt://` point's value is and how to decode it."""

    topic: str
    pointer: str | None  # JSON pointer ("" = the whole document), None: not JSON
    payload: str  # json, text, raw or auto
    ts: str | None = None
    quality: str | None = None
    qos: int | None = None
    set: str | None = None


@dataclass(frozen=True, slots=True)
class SpbAddress:
    """A Sparkplug B metric: group, edge node, optional device and the metric name."""

    group: str
    edge_node: str
    device: str | None
    metric: str


def _check_topic(text: str, topic: str, what: str) -> None:
    if not topic:
        raise AddressError(text, f"missing {what} (e.g. mqtt://BROKER1/site/hs1/TT101)")
    if "+" in topic or "#" in topic:
        raise AddressError(
            text,
            f"{what} {topic!r} is a filter: '+' and '#' are not allowed in a tag address "
            "(a topic name cannot hold them; the driver makes wildcard subscriptions itself)",
        )
    if "\0" in topic:
        raise AddressError(text, f"{what} must not contain NUL")


def _check_pointer(text: str, pointer: str, what: str) -> None:
    if pointer and not pointer.startswith("/"):
        raise AddressError(text, f"{what} {pointer!r} must be a JSON pointer starting with '/'")


def mqtt_address(address: Address, text: str | None = None) -> MqttAddress:
    """The decoding plan of an `mqtt://` address; raises AddressError."""
    text = text or str(address)
    topic = "/".join(address.segments)
    _check_topic(text, topic, "topic")
    q = dict(address.query)
    pointer = address.member
    mode = q.get("payload", "json" if pointer is not None else "auto")
    if mode not in PAYLOADS:
        raise AddressError(
            text, f"unknown payload {mode!r} (expected one of {', '.join(PAYLOADS)})"
        )
    if pointer is not None:
        _check_pointer(text, pointer, "member")
        if mode != "json":
            raise AddressError(text, f"a JSON pointer (#{pointer}) needs payload=json, not {mode}")
    elif mode == "json":
        pointer = ""
    for key in ("ts", "quality"):
        if key in q:
            _check_pointer(text, q[key], key)
            if mode != "json":
                raise AddressError(text, f"{key}= points into a JSON payload: needs payload=json")
    qos: int | None = None
    if "qos" in q:
        if q["qos"] not in ("0", "1", "2"):
            raise AddressError(text, f"qos must be 0, 1 or 2, not {q['qos']!r}")
        qos = int(q["qos"])
    if "set" in q:
        _check_topic(text, q["set"], "set topic")
    return MqttAddress(topic, pointer, mode, q.get("ts"), q.get("quality"), qos, q.get("set"))


def parse_mqtt(text: str) -> Address:
    """Validate and canonicalise an `mqtt://` address; raise AddressError."""
    address = split(text)
    if address.scheme != "mqtt":
        raise AddressError(text, f"not an mqtt:// address (scheme {address.scheme!r})")
    defaults = {"payload": "json" if address.member is not None else "auto"}
    query = canonical_query(address, text, _QUERY_ORDER, defaults)
    result = Address(address.scheme, address.authority, address.segments, query, address.member)
    mqtt_address(result, text)
    return result


def parse_spb(text: str) -> Address:
    """Validate and canonicalise an `spb://BROKER/group/edge_node[/device]#metric`; AddressError."""
    address = split(text)
    if address.scheme != "spb":
        raise AddressError(text, f"not an spb:// address (scheme {address.scheme!r})")
    canonical_query(address, text, (), {})
    result = Address(address.scheme, address.authority, address.segments, (), address.member)
    spb_address(result, text)
    return result


def spb_address(address: Address, text: str | None = None) -> SpbAddress:
    """The group, edge node, device and metric of an `spb://` address; raises AddressError."""
    text = text or str(address)
    parts = address.segments
    if len(parts) not in (2, 3) or not all(parts):
        raise AddressError(text, "expected spb://BROKER/group/edge_node[/device]#metric")
    for part in parts:
        if "+" in part or "#" in part:
            raise AddressError(text, f"{part!r}: '+' and '#' are not allowed in Sparkplug ids")
    if not address.member:
        raise AddressError(text, "missing the metric name after '#' (e.g. #TT101)")
    return SpbAddress(parts[0], parts[1], parts[2] if len(parts) == 3 else None, address.member)


# --- decoding ------------------------------------------------------------------------------------


def resolve(document: Any, pointer: str) -> Any:
    """The value an RFC 6901 JSON pointer selects; raises DecodeFailure when it is not there."""
    if pointer == "":
        return document
    node = document
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            node = node.get(token, _MISSING)
        elif isinstance(node, list) and token.isdigit() and (token == "0" or token[0] != "0"):
            node = node[int(token)] if int(token) < len(node) else _MISSING
        else:
            node = _MISSING
        if node is _MISSING:
            raise DecodeFailure(f"no {pointer} in the payload")
    return node


def parse_json(payload: bytes) -> Any:
    """The JSON document of a payload; raises DecodeFailure."""
    try:
        return json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise DecodeFailure(f"invalid JSON ({exc})") from None


def json_value(document: Any, pointer: str) -> Any:
    """A scalar (number, bool, text) at `pointer`; raises DecodeFailure for null, objects, lists."""
    value = resolve(document, pointer)
    if value is None:
        raise DecodeFailure(f"{pointer or 'the payload'} is null")
    if isinstance(value, dict | list):
        raise DecodeFailure(
            f"{pointer or 'the payload'} is a JSON {type(value).__name__}, not a value"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise DecodeFailure(f"{pointer or 'the payload'} is not a finite number")
    return value


def plain_value(payload: bytes, mode: str) -> Any:
    """The value of a non-JSON payload: raw bytes, text, or (auto) a number, a bool or text."""
    if mode == "raw":
        return payload
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeFailure("the payload is not UTF-8 text") from None
    if mode == "text":
        return text
    word = text.strip()
    if not word:
        raise DecodeFailure("empty payload")
    lower = word.lower()
    if lower in ("true", "false"):
        return lower == "true"
    try:
        return int(word)
    except ValueError:
        pass
    try:
        number = float(word)
    except ValueError:
        return text
    if not math.isfinite(number):
        raise DecodeFailure(f"{word!r} is not a finite number")
    return number


def timestamp(value: Any) -> float:
    """Epoch seconds from epoch s/ms/us/ns numbers or ISO 8601 text (UTC when no offset given)."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            try:
                moment = dt.datetime.fromisoformat(value.strip())
            except ValueError:
                raise DecodeFailure(f"timestamp {value!r} is not ISO 8601 or a number") from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.UTC)
            return moment.timestamp()
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DecodeFailure(f"timestamp {value!r} is not a time")
    size = abs(value)
    if size >= 1e17:
        return value / 1e9
    if size >= 1e14:
        return value / 1e6
    if size >= 1e11:
        return value / 1e3
    return float(value)


def quality(value: Any) -> Quality:
    """Quality from good/uncertain/bad text, a bool, or an OPC DA byte / OPC UA status code.

    0 is Good (OPC UA); 1-255 are OPC DA qualities (192-255 good, 64-127 uncertain, else bad);
    larger numbers are OPC UA status codes judged by their severity bits.
    """
    if isinstance(value, bool):
        return Quality.GOOD if value else Quality.BAD
    if isinstance(value, str):
        word = value.strip().lower()
        for name, q in (
            ("good", Quality.GOOD),
            ("uncertain", Quality.UNCERTAIN),
            ("bad", Quality.BAD),
        ):
            if word.startswith(name):
                return q
        if word in ("ok", "valid"):
            return Quality.GOOD
        raise DecodeFailure(f"quality {value!r} is not good, uncertain or bad")
    if isinstance(value, int) and value >= 0:
        if value == 0:
            return Quality.GOOD
        if value <= 255:
            top = value >> 6
            return {3: Quality.GOOD, 1: Quality.UNCERTAIN}.get(top, Quality.BAD)
        severity = (value >> 30) & 3
        return {0: Quality.GOOD, 1: Quality.UNCERTAIN}.get(severity, Quality.BAD)
    raise DecodeFailure(f"quality {value!r} is not a quality")


@dataclass(frozen=True, slots=True)
class Decoded:
    """One point's share of a message: value, quality, reason, source time, and an error text."""

    value: Any
    quality: Quality = Quality.GOOD
    reason: Reason = Reason.NONE
    source_ts: float | None = None
    error: str = ""  # why the point is bad or uncertain because of the payload ("" otherwise)


def decode_json_point(document: Any, where: MqttAddress) -> Decoded:
    """The value, quality and timestamp of one point in an already parsed JSON document."""
    try:
        value = json_value(document, where.pointer or "")
    except DecodeFailure as exc:
        return Decoded(None, Quality.BAD, Reason.DECODE_ERROR, error=str(exc))
    source_ts: float | None = None
    problems = []
    if where.ts is not None:
        try:
            source_ts = timestamp(resolve(document, where.ts))
        except DecodeFailure as exc:
            problems.append(str(exc))
    q = Quality.GOOD
    if where.quality is not None:
        try:
            q = quality(resolve(document, where.quality))
        except DecodeFailure as exc:
            problems.append(str(exc))
    if problems:  # the value is there but its timestamp or quality is not: keep it, flagged
        return Decoded(
            value, Quality.UNCERTAIN, Reason.DECODE_ERROR, source_ts, "; ".join(problems)
        )
    if q is Quality.BAD:
        return Decoded(None, Quality.BAD, Reason.DEVICE_ERROR, source_ts)
    if q is Quality.UNCERTAIN:
        return Decoded(value, Quality.UNCERTAIN, Reason.DEVICE_ERROR, source_ts)
    return Decoded(value, source_ts=source_ts)


def encode_write(value: Any) -> bytes:
    """The payload a write publishes: a JSON number or bool, text as UTF-8, bytes unchanged."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite number")
        return json.dumps(value).encode()
    if isinstance(value, str):
        return value.encode("utf-8")
    raise ValueError(f"cannot publish a {type(value).__name__}")


def cover(topics: dict[str, int], threshold: int) -> dict[str, int]:
    """Subscription filters (with QoS) covering `topics` (topic name -> QoS).

    A subtree that would need `threshold` or more filters gets one `prefix/#` instead, at the
    deepest level where that happens, never a bare `#`; a threshold of 0 disables wildcards.
    """
    if threshold <= 0:
        return dict(topics)
    end = "\0"  # marks a topic that ends at a tree node (NUL cannot be in a topic)
    tree: dict[str, Any] = {}
    for topic, qos in topics.items():
        node = tree
        for level in topic.split("/"):
            node = node.setdefault(level, {})
        node[end] = qos

    def walk(node: dict[str, Any], prefix: str, depth: int) -> dict[str, int]:
        found: dict[str, int] = {prefix: node[end]} if end in node else {}
        for level, child in node.items():
            if level != end:
                found |= walk(child, f"{prefix}/{level}" if depth else level, depth + 1)
        if depth >= 1 and len(found) >= threshold:
            return {f"{prefix}/#": max(found.values())}
        return found

    return walk(tree, "", 0)

"""`opcua://` addresses: NodeId text form, query keys and #member paths, parsed and canonicalised.

Pure functions only (no I/O, no asyncua). The grammar (ANCHORS-STYLE 5.3):

    opcua://DEVICE/<NodeId>[?mode=sub|poll&interval=<duration>&deadband=<number>][#<member>]

- NodeId: `[ns=<index>;|nsu=<namespace URI>;](i=<uint32>|s=<string>|g=<guid>|b=<base64>)`.
  `ns=0;` is dropped, GUIDs are lower-cased and ByteStrings re-encoded, so the text is canonical.
  A `nsu=` namespace is resolved to its index after connecting (indices can change when a
  server restarts). '/' may appear in the NodeId; '#', '?' and '%' inside it are written
  %23, %3F and %25. Raw Unicode is accepted.
- Query: `mode` (`sub`, the default: a monitored item; or `poll`: periodic reads), `interval`
  (sampling interval, or the poll period; default: the tag's scan class), `deadband` (absolute
  data-change deadband of the monitored item; `sub` only). Defaults are omitted and keys are
  written in that order, with durations normalised ("1000ms" -> "1s").
- Member: a field of a structured value or an element of an array, dotted: `#Running`, `#3`,
  `#BuildInfo.ProductName`, `#Values.2`.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import uuid
from dataclasses import dataclass
from functools import lru_cache

from drivers.address import Address, AddressError, canonical_query, split
from drivers.base import parse_duration

MODES: tuple[str, ...] = ("sub", "poll")
QUERY_ORDER: tuple[str, ...] = ("mode", "interval", "deadband")
MAX_NS = 65535
MAX_NUMERIC = 2**32 - 1
_QUERY_HINT = "; '?' inside a NodeId must be written %3F"
_FIELD = re.compile(r"^(?:\d+|[^\W\d]\w*)$")


@dataclass(frozen=True, slots=True)
class NodeRef:
    """A NodeId as written: namespace by index or by URI, identifier type and identifier."""

    namespace: int | str  # index, or namespace URI (resolved after connecting)
    kind: str  # "i", "s", "g" or "b"
    identifier: int | str | bytes  # int for i, str for s and g (canonical), bytes for b

    def text(self) -> str:
        """The canonical NodeId text, e.g. 'ns=2;s=HS1.TT101'."""
        if self.kind == "b":
            assert isinstance(self.identifier, bytes)
            ident = base64.b64encode(self.identifier).decode("ascii")
        else:
            ident = str(self.identifier)
        if isinstance(self.namespace, str):
            prefix = f"nsu={self.namespace};"
        else:
            prefix = f"ns={self.namespace};" if self.namespace else ""
        return f"{prefix}{self.kind}={ident}"


@dataclass(frozen=True, slots=True)
class OpcUaAddress:
    """What an `opcua://` address asks for: node, how to read it, and which member."""

    node: NodeRef
    mode: str = "sub"
    interval: float | None = None  # seconds; None: the point's scan class
    deadband: float = 0.0
    member: tuple[str | int, ...] = ()  # field names and array indices, outermost first


def format_duration(seconds: float) -> str:
    """Canonical duration text: whole seconds as '2s', otherwise milliseconds ('250ms')."""
    ms = round(seconds * 1000.0, 6)
    if ms.is_integer() and ms % 1000 == 0:
        return f"{int(ms) // 1000}s"
    if ms.is_integer():
        return f"{int(ms)}ms"
    return f"{ms:g}ms"


def _number_or_text(text: str) -> float | str:
    """A bare number in a query is seconds ('0.25'); anything else goes to parse_duration."""
    try:
        return float(text)
    except ValueError:
        return text


def _number_text(value: float) -> str:
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def parse_nodeid(text: str) -> NodeRef:
    """Parse NodeId text ('ns=2;s=Name', 'nsu=urn:x;i=5', 'g=…', 'b=…'); raise ValueError."""
    if not text:
        raise ValueError("missing NodeId (e.g. ns=2;s=Boiler1.Temperature or ns=3;i=1002)")
    namespace: int | str = 0
    rest = text
    if rest.startswith(("ns=", "nsu=")):
        head, sep, rest = rest.partition(";")
        if not sep:
            raise ValueError(f"expected ';' and an identifier after {head!r} (e.g. {head};s=Name)")
        key, _, value = head.partition("=")
        if key == "ns":
            if not value.isdigit() or int(value) > MAX_NS:
                raise ValueError(f"namespace index {value!r} is not a number 0..{MAX_NS}")
            namespace = int(value)
        else:
            if not value:
                raise ValueError("empty namespace URI after nsu=")
            namespace = value
    kind, sep, ident = rest.partition("=")
    if not sep or kind not in ("i", "s", "g", "b"):
        if rest.startswith(("ns=", "nsu=")):
            raise ValueError("give the namespace once, as ns=<index> or nsu=<URI>, not both")
        raise ValueError(
            f"expected a NodeId like ns=2;s=Name or ns=3;i=1002, got {text!r} "
            "(identifier types: i= numeric, s= string, g= GUID, b= ByteString)"
        )
    if kind == "i":
        if not ident.isdigit() or int(ident) > MAX_NUMERIC:
            raise ValueError(f"numeric identifier {ident!r} is not a number 0..{MAX_NUMERIC}")
        return NodeRef(namespace, "i", int(ident))
    if kind == "s":
        if not ident:
            raise ValueError("empty string identifier after s=")
        return NodeRef(namespace, "s", ident)
    if kind == "g":
        try:
            guid = uuid.UUID(ident)
        except ValueError:
            raise ValueError(
                f"bad GUID {ident!r} (expected e.g. g=09087e75-8e5e-499b-954f-f2a9603db28a)"
            ) from None
        return NodeRef(namespace, "g", str(guid))
    try:
        raw = base64.b64decode(ident.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError(f"bad ByteString identifier {ident!r} (expected base64)") from None
    if not raw:
        raise ValueError("empty ByteString identifier after b=")
    return NodeRef(namespace, "b", raw)


def parse_member(text: str) -> tuple[str | int, ...]:
    """A dotted member path ('Status.Running', '3') as field names and integer indices."""
    parts = text.split(".")
    if not text or not all(_FIELD.match(p) for p in parts):
        raise ValueError(
            f"#{text} is not a member (a field name or array index, e.g. #Running or #3, "
            "dotted for nested members); '#' inside a NodeId must be written %23"
        )
    return tuple(int(p) if p.isdigit() else p for p in parts)


def _parse(address: Address, text: str) -> tuple[Address, OpcUaAddress]:
    if address.scheme != "opcua":
        raise AddressError(text, f"not an OPC UA address (scheme {address.scheme!r})")
    try:
        node = parse_nodeid("/".join(address.segments))
    except ValueError as exc:
        raise AddressError(text, str(exc)) from None
    try:
        canonical_query(address, text, QUERY_ORDER, {})
    except AddressError as exc:
        raise AddressError(text, exc.message + _QUERY_HINT) from None
    mode = address.option("mode", "sub") or "sub"
    if mode not in MODES:
        raise AddressError(text, f"unknown mode {mode!r} (expected sub or poll)")
    interval: float | None = None
    if (raw_interval := address.option("interval")) is not None:
        try:
            interval = parse_duration(_number_or_text(raw_interval))
        except ValueError as exc:
            raise AddressError(text, f"interval: {exc}") from None
    deadband = 0.0
    if (raw_deadband := address.option("deadband")) is not None:
        try:
            deadband = float(raw_deadband)
        except ValueError:
            deadband = math.nan
        if not math.isfinite(deadband) or deadband < 0:
            raise AddressError(text, f"deadband {raw_deadband!r} must be a number >= 0")
        if deadband and mode == "poll":
            raise AddressError(text, "deadband is a monitored-item filter: use it with mode=sub")
    member: tuple[str | int, ...] = ()
    if address.member is not None:
        try:
            member = parse_member(address.member)
        except ValueError as exc:
            raise AddressError(text, str(exc)) from None
    query: list[tuple[str, str]] = []
    if mode != "sub":
        query.append(("mode", mode))
    if interval is not None:
        query.append(("interval", format_duration(interval)))
    if deadband:
        query.append(("deadband", _number_text(deadband)))
    canonical = Address(
        "opcua",
        address.authority,
        tuple(node.text().split("/")),
        tuple(query),
        address.member,
    )
    return canonical, OpcUaAddress(node, mode, interval, deadband, member)


def parse_address(text: str) -> Address:
    """Validate an `opcua://` address and return its canonical form; raise AddressError."""
    try:
        address = split(text)
    except AddressError as exc:
        if "query" in exc.message:
            raise AddressError(text, exc.message + _QUERY_HINT) from None
        raise
    return _parse(address, text)[0]


@lru_cache(maxsize=65536)
def opcua_address(address: Address) -> OpcUaAddress:
    """The node, read mode and member of a (parsed) address; raise AddressError."""
    return _parse(address, str(address))[1]

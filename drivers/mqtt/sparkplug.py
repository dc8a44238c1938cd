"""Sparkplug B (spBv1.0) payloads and topics: pure encode/decode, no I/O.

Owns the wire format of Sparkplug B on top of the protobuf classes of `sparkplug_pb`: the data
type constants, the mapping between Python values and the value fields per data type (including
the 3.0 array types packed into `bytes_value`, and DataSets), and the topic namespace
`spBv1.0/group/TYPE/edge_node[/device]`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from drivers.floats import float32_decimal
from drivers.mqtt.sparkplug_pb import PayloadMessage

NAMESPACE = "spBv1.0"
REBIRTH = "Node Control/Rebirth"  # NCMD metric asking an edge node to publish its births again
BD_SEQ = "bdSeq"  # birth/death sequence metric of NBIRTH and NDEATH

# Data types (Sparkplug B 3.0, section 6.4.16)
Unknown = 0
Int8 = 1
Int16 = 2
Int32 = 3
Int64 = 4
UInt8 = 5
UInt16 = 6
UInt32 = 7
UInt64 = 8
Float = 9
Double = 10
Boolean = 11
String = 12
DateTime = 13
Text = 14
UUID = 15
DataSet = 16
Bytes = 17
File = 18
Template = 19
PropertySet = 20
PropertySetList = 21
Int8Array = 22
Int16Array = 23
Int32Array = 24
Int64Array = 25
UInt8Array = 26
UInt16Array = 27
UInt32Array = 28
UInt64Array = 29
FloatArray = 30
DoubleArray = 31
BooleanArray = 32
StringArray = 33
DateTimeArray = 34

DATATYPE_NAMES: dict[int, str] = {
    value: name
    for name, value in dict(globals()).items()
    if isinstance(value, int) and not name.startswith("_") and name[0].isupper()
}

# integer types -> (bits, signed); Int8..UInt32 travel in int_value, the rest in long_value
_INTS: dict[int, tuple[int, bool]] = {
    Int8: (8, True),
    Int16: (16, True),
    Int32: (32, True),
    UInt8: (8, False),
    UInt16: (16, False),
    UInt32: (32, False),
    Int64: (64, True),
    UInt64: (64, False),
    DateTime: (64, False),
}
_STRINGS = frozenset({String, Text, UUID})
_BYTES = frozenset({Bytes, File})
# array types -> struct code of one little-endian element
_ARRAYS: dict[int, str] = {
    Int8Array: "b",
    Int16Array: "h",
    Int32Array: "i",
    Int64Array: "q",
    UInt8Array: "B",
    UInt16Array: "H",
    UInt32Array: "I",
    UInt64Array: "Q",
    FloatArray: "f",
    DoubleArray: "d",
    DateTimeArray: "q",
}
MESSAGE_TYPES = ("NBIRTH", "NDEATH", "DBIRTH", "DDEATH", "NDATA", "DDATA", "NCMD", "DCMD")


class SparkplugError(ValueError):
    """A Sparkplug payload or topic that cannot be encoded or decoded."""


@dataclass
class Metric:
    """One metric: named (births, commands) or aliased (data); timestamp in epoch ms."""

    name: str | None
    alias: int | None
    timestamp: int | None
    datatype: int
    value: Any
    is_null: bool = False
    is_historical: bool = False
    is_transient: bool = False


@dataclass
class Payload:
    """A Sparkplug B payload: send time (epoch ms), sequence number (0-255) and metrics."""

    timestamp: int | None
    seq: int | None
    metrics: list[Metric] = field(default_factory=list)


@dataclass
class DataSetValue:
    """A DataSet metric value: column names, their data types, and rows of values."""

    columns: list[str]
    types: list[int]
    rows: list[list[Any]]


# --- values ------------------------------------------------------------------------------------


def _type_name(datatype: int) -> str:
    return DATATYPE_NAMES.get(datatype, f"datatype {datatype}")


def _check_int(value: Any, datatype: int) -> int:
    bits, signed = _INTS[datatype]
    if isinstance(value, bool) or not isinstance(value, int):
        raise SparkplugError(f"{_type_name(datatype)} needs an integer, got {value!r}")
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if not low <= value <= high:
        raise SparkplugError(f"{value} is out of range for {_type_name(datatype)}")
    return value & ((1 << (32 if bits <= 32 else 64)) - 1)  # two's complement in the field


def _from_wire_int(raw: int, datatype: int) -> int:
    bits, signed = _INTS[datatype]
    raw &= (1 << bits) - 1
    if signed and raw >> (bits - 1):
        raw -= 1 << bits
    return raw


def _set_scalar(target: Any, datatype: int, value: Any, *, cell: bool = False) -> None:
    """Put `value` into the value field of a Metric (or a DataSet cell) for `datatype`."""
    if datatype in _INTS:
        wire = _check_int(value, datatype)
        if _INTS[datatype][0] <= 32:
            target.int_value = wire
        else:
            target.long_value = wire
    elif datatype in (Float, Double):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SparkplugError(f"{_type_name(datatype)} needs a number, got {value!r}")
        if datatype == Float:
            target.float_value = float(value)
        else:
            target.double_value = float(value)
    elif datatype == Boolean:
        if not isinstance(value, bool):
            raise SparkplugError(f"Boolean needs True or False, got {value!r}")
        target.boolean_value = value
    elif datatype in _STRINGS:
        if not isinstance(value, str):
            raise SparkplugError(f"{_type_name(datatype)} needs text, got {value!r}")
        target.string_value = value
    elif not cell and datatype in _BYTES:
        if not isinstance(value, bytes | bytearray):
            raise SparkplugError(f"{_type_name(datatype)} needs bytes, got {value!r}")
        target.bytes_value = bytes(value)
    elif not cell and (datatype in _ARRAYS or datatype in (BooleanArray, StringArray)):
        target.bytes_value = _pack_array(datatype, value)
    elif not cell and datatype == DataSet:
        _set_dataset(target.dataset_value, value)
    elif not cell and datatype == Unknown:  # no type given (DATA may omit it): by Python type
        _set_scalar(target, _guess(value), value)
    else:
        raise SparkplugError(f"cannot encode {_type_name(datatype)} values")


def _guess(value: Any) -> int:
    if isinstance(value, bool):
        return Boolean
    if isinstance(value, int):
        return UInt32 if 0 <= value < 1 << 32 else (Int64 if value < 0 else UInt64)
    kinds = {float: Double, str: String, bytes: Bytes, bytearray: Bytes, DataSetValue: DataSet}
    if type(value) in kinds:
        return kinds[type(value)]
    raise SparkplugError(f"cannot encode a {type(value).__name__} without a data type")


def _get_scalar(source: Any, datatype: int, *, cell: bool = False) -> Any:
    """The Python value of a Metric's (or DataSet cell's) value field for `datatype`."""
    which = source.WhichOneof("value")
    if which is None:
        return None
    raw = getattr(source, which)
    if which == "string_value" and not isinstance(raw, str):
        raise SparkplugError("a string value is not UTF-8")  # upb returns bytes for proto2
    if datatype == Unknown and not cell:  # DATA messages may leave the type to the birth
        if which == "dataset_value":
            return _get_dataset(raw)
        return bytes(raw) if isinstance(raw, bytes) else raw
    if datatype in _INTS and which in ("int_value", "long_value"):
        return _from_wire_int(raw, datatype)
    expected = {Float: "float_value", Double: "double_value", Boolean: "boolean_value"}
    expected |= dict.fromkeys(_STRINGS, "string_value")
    if not cell:
        expected |= dict.fromkeys((*_BYTES, *_ARRAYS, BooleanArray, StringArray), "bytes_value")
        expected[DataSet] = "dataset_value"
    if expected.get(datatype) != which:
        raise SparkplugError(f"a {_type_name(datatype)} value carried in {which}")
    if datatype in _ARRAYS or datatype in (BooleanArray, StringArray):
        return _unpack_array(datatype, raw)
    if datatype == DataSet:
        return _get_dataset(raw)
    if which == "float_value":
        return float32_decimal(raw)
    return bytes(raw) if isinstance(raw, bytes) else raw


def retype(value: Any, datatype: int) -> Any:
    """A value decoded from a metric without a data type (DATA may omit it), read as `datatype`."""
    if value is None or datatype == Unknown:
        return value
    number = isinstance(value, int) and not isinstance(value, bool)
    if datatype in _INTS and number:
        return _from_wire_int(value, datatype)
    if (datatype in _ARRAYS or datatype in (BooleanArray, StringArray)) and isinstance(
        value, bytes
    ):
        return _unpack_array(datatype, value)
    fits = {Float: float, Double: float, Boolean: bool, DataSet: DataSetValue}
    fits |= dict.fromkeys(_STRINGS, str) | dict.fromkeys(_BYTES, bytes)
    kind = fits.get(datatype)
    if kind is not None and isinstance(value, kind):
        return value
    raise SparkplugError(f"a {type(value).__name__} value for a {_type_name(datatype)} metric")


def _pack_array(datatype: int, value: Any) -> bytes:
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        raise SparkplugError(f"{_type_name(datatype)} needs a list, got {value!r}")
    try:
        if datatype == BooleanArray:
            if not all(isinstance(v, bool) for v in value):
                raise SparkplugError("BooleanArray needs True/False elements")
            bits = bytearray((len(value) + 7) // 8)
            for i, v in enumerate(value):
                if v:
                    bits[i // 8] |= 0x80 >> (i % 8)
            return struct.pack("<I", len(value)) + bytes(bits)
        if datatype == StringArray:
            if not all(isinstance(v, str) and "\0" not in v for v in value):
                raise SparkplugError("StringArray needs text elements without NUL")
            return b"".join(v.encode() + b"\0" for v in value)
        code = _ARRAYS[datatype]
        if code in "fd":
            if any(isinstance(v, bool) or not isinstance(v, int | float) for v in value):
                raise SparkplugError(f"{_type_name(datatype)} needs number elements")
        elif any(isinstance(v, bool) or not isinstance(v, int) for v in value):
            raise SparkplugError(f"{_type_name(datatype)} needs integer elements")
        return struct.pack(f"<{len(value)}{code}", *value)
    except struct.error as exc:
        raise SparkplugError(f"{_type_name(datatype)}: {exc}") from None


def _unpack_array(datatype: int, raw: bytes) -> list[Any]:
    try:
        if datatype == BooleanArray:
            (count,) = struct.unpack_from("<I", raw)
            if len(raw) - 4 < (count + 7) // 8:
                raise SparkplugError(f"BooleanArray of {count} needs more than {len(raw)} bytes")
            return [bool(raw[4 + i // 8] & (0x80 >> (i % 8))) for i in range(count)]
        if datatype == StringArray:
            if raw and not raw.endswith(b"\0"):
                raise SparkplugError("StringArray is not NUL-terminated")
            return [s.decode() for s in raw.split(b"\0")[:-1]]
        code = _ARRAYS[datatype]
        size = struct.calcsize(code)
        if len(raw) % size:
            raise SparkplugError(f"{_type_name(datatype)}: {len(raw)} bytes is not a whole array")
        return list(struct.unpack(f"<{len(raw) // size}{code}", raw))
    except (struct.error, UnicodeDecodeError) as exc:
        raise SparkplugError(f"{_type_name(datatype)}: {exc}") from None


def _set_dataset(target: Any, value: Any) -> None:
    if not isinstance(value, DataSetValue):
        raise SparkplugError(f"DataSet needs a DataSetValue, got {value!r}")
    if len(value.columns) != len(value.types):
        raise SparkplugError("DataSet needs one type per column")
    target.num_of_columns = len(value.columns)
    target.columns.extend(value.columns)
    target.types.extend(value.types)
    for values in value.rows:
        if len(values) != len(value.types):
            raise SparkplugError(
                f"DataSet row {values!r} does not match {len(value.types)} columns"
            )
        row = target.rows.add()
        for datatype, v in zip(value.types, values, strict=True):
            _set_scalar(row.elements.add(), datatype, v, cell=True)


def _get_dataset(source: Any) -> DataSetValue:
    types = list(source.types)
    rows = []
    for row in source.rows:
        if len(row.elements) != len(types):
            raise SparkplugError("DataSet row does not match its column count")
        rows.append(
            [_get_scalar(e, t, cell=True) for e, t in zip(row.elements, types, strict=True)]
        )
    return DataSetValue(list(source.columns), types, rows)


# --- payloads ----------------------------------------------------------------------------------


def encode(payload: Payload) -> bytes:
    """Serialise a payload; raises SparkplugError for a value that does not fit its type."""
    message = PayloadMessage()
    try:
        if payload.timestamp is not None:
            message.timestamp = payload.timestamp
        if payload.seq is not None:
            message.seq = payload.seq
        for metric in payload.metrics:
            out = message.metrics.add()
            if metric.name is not None:
                out.name = metric.name
            if metric.alias is not None:
                out.alias = metric.alias
            if metric.timestamp is not None:
                out.timestamp = metric.timestamp
            out.datatype = metric.datatype
            if metric.is_historical:
                out.is_historical = True
            if metric.is_transient:
                out.is_transient = True
            if metric.is_null or metric.value is None:
                out.is_null = True
                continue
            try:
                _set_scalar(out, metric.datatype, metric.value)
            except SparkplugError as exc:
                raise SparkplugError(f"metric {metric.name or metric.alias}: {exc}") from None
    except (TypeError, ValueError) as exc:
        if isinstance(exc, SparkplugError):
            raise
        raise SparkplugError(str(exc)) from None
    data: bytes = message.SerializeToString()
    return data


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):  # proto2 strings are not checked for UTF-8 by upb
        raise SparkplugError(f"{what} {value!r} is not UTF-8")
    return value


def decode(data: bytes) -> Payload:
    """Parse a payload; raises SparkplugError on malformed input or a mistyped value."""
    message = PayloadMessage()
    try:
        message.ParseFromString(bytes(data))
        metrics = []
        for m in message.metrics:
            datatype = m.datatype
            null = m.is_null
            try:
                value = None if null else _get_scalar(m, datatype)
            except SparkplugError as exc:
                raise SparkplugError(f"metric {m.name or m.alias}: {exc}") from None
            metrics.append(
                Metric(
                    name=_text(m.name, "metric name") if m.HasField("name") else None,
                    alias=m.alias if m.HasField("alias") else None,
                    timestamp=m.timestamp if m.HasField("timestamp") else None,
                    datatype=datatype,
                    value=value,
                    is_null=null,
                    is_historical=m.is_historical,
                    is_transient=m.is_transient,
                )
            )
    except SparkplugError:
        raise
    except Exception as exc:  # protobuf DecodeError, bad UTF-8 in a string field, ...
        raise SparkplugError(f"not a Sparkplug B payload ({exc})") from None
    return Payload(
        timestamp=message.timestamp if message.HasField("timestamp") else None,
        seq=message.seq if message.HasField("seq") else None,
        metrics=metrics,
    )


# --- topics ------------------------------------------------------------------------------------


def _check_id(kind: str, value: str) -> None:
    if not value or any(c in value for c in "/+#"):
        raise SparkplugError(f"{kind} {value!r} must be non-empty and free of '/', '+' and '#'")


def topic(group: str, message_type: str, edge_node: str, device: str | None = None) -> str:
    """`spBv1.0/group/TYPE/edge_node[/device]`; device messages need a device, node ones none."""
    if message_type not in MESSAGE_TYPES:
        raise SparkplugError(f"unknown message type {message_type!r}")
    _check_id("group", group)
    _check_id("edge node", edge_node)
    if message_type.startswith("D"):
        if device is None:
            raise SparkplugError(f"{message_type} needs a device id")
        _check_id("device", device)
        return f"{NAMESPACE}/{group}/{message_type}/{edge_node}/{device}"
    if device is not None:
        raise SparkplugError(f"{message_type} is a node message and takes no device id")
    return f"{NAMESPACE}/{group}/{message_type}/{edge_node}"


def parse_topic(text: str) -> tuple[str, str, str, str | None]:
    """(group, message_type, edge_node, device or None) of an edge node's spBv1.0 topic."""
    parts = text.split("/")
    if parts[0] != NAMESPACE or len(parts) not in (4, 5):
        raise SparkplugError(f"{text!r} is not a {NAMESPACE}/group/TYPE/edge_node[/device] topic")
    group, message_type, edge_node = parts[1:4]
    device = parts[4] if len(parts) == 5 else None
    if message_type not in MESSAGE_TYPES:
        raise SparkplugError(f"{text!r}: unknown message type {message_type!r}")
    if message_type.startswith("D") != (device is not None) or not all(parts):
        raise SparkplugError(f"{text!r}: {message_type} topic has the wrong number of levels")
    return group, message_type, edge_node, device


def state_topic(host_id: str) -> str:
    """The Sparkplug 3.0 host application STATE topic, `spBv1.0/STATE/host_id`."""
    _check_id("host id", host_id)
    return f"{NAMESPACE}/STATE/{host_id}"

"""OPC UA values <-> Conduit samples: status codes to quality, members, Python values, writes.

Pure functions (no I/O). Owns the quality mapping (ANCHORS-STYLE 5.3): Good -> good;
Uncertain -> uncertain (value kept) with a reason; Bad -> bad (no value) with `device_error`,
or `comm_failure` / `timeout` / `initial` / `config_error` / `out_of_range` where the status
code says so. Also owns picking a `#member` out of a structure or array, turning asyncua's
values into plain Python (LocalizedText -> str, enums -> int, …), and building the Variant a
write sends, typed by the node's DataType so 3.0 goes to an Int16 node as Int16.
"""

from __future__ import annotations

import datetime
import enum
import math
import uuid
from typing import Any

from asyncua import ua
from asyncua.ua.status_codes import StatusCodes

from drivers.base import Quality, Reason

_SEVERITY_MASK = 0xFFFF0000  # the low 16 bits are info bits (limits, overflow)


def _codes(*names: str) -> frozenset[int]:
    return frozenset(int(getattr(StatusCodes, n)) for n in names)


_COMM = _codes(
    "BadCommunicationError", "BadServerNotConnected", "BadNoCommunication", "BadNotConnected"
)
_CONFIG = _codes(
    "BadNodeIdUnknown",
    "BadNodeIdInvalid",
    "BadAttributeIdInvalid",
    "BadIndexRangeInvalid",
    "BadTypeMismatch",
    "BadFilterNotAllowed",
    "BadMonitoredItemFilterUnsupported",
    "BadDeadbandFilterInvalid",
    "BadNotReadable",
)
_UNCERTAIN: dict[int, Reason] = {
    StatusCodes.UncertainLastUsableValue: Reason.STALE,
    StatusCodes.UncertainNoCommunicationLastUsableValue: Reason.COMM_FAILURE,
    StatusCodes.UncertainInitialValue: Reason.INITIAL,
    StatusCodes.UncertainEngineeringUnitsExceeded: Reason.OUT_OF_RANGE,
    StatusCodes.UncertainOverRange: Reason.OUT_OF_RANGE,
    StatusCodes.UncertainUnderRange: Reason.OUT_OF_RANGE,
}
_BAD: dict[int, Reason] = dict.fromkeys(_COMM, Reason.COMM_FAILURE) | dict.fromkeys(
    _CONFIG, Reason.CONFIG_ERROR
)
_BAD[StatusCodes.BadTimeout] = Reason.TIMEOUT
_BAD[StatusCodes.BadWaitingForInitialData] = Reason.INITIAL
_BAD[StatusCodes.BadOutOfRange] = Reason.OUT_OF_RANGE


def status_name(code: int) -> str:
    """The symbolic name of a status code, e.g. 'BadNodeIdUnknown'."""
    return ua.StatusCode(ua.UInt32(code & _SEVERITY_MASK)).name


def quality_of(code: int) -> tuple[Quality, Reason]:
    """Quality and reason for an OPC UA status code."""
    severity = code >> 30
    base = code & _SEVERITY_MASK
    if severity == 0:
        return Quality.GOOD, Reason.NONE
    if severity == 1:
        return Quality.UNCERTAIN, _UNCERTAIN.get(base, Reason.DEVICE_ERROR)
    return Quality.BAD, _BAD.get(base, Reason.DEVICE_ERROR)


def timestamp(dv: ua.DataValue) -> float | None:
    """The source timestamp of a DataValue (server timestamp if none) as epoch seconds."""
    when = dv.SourceTimestamp or dv.ServerTimestamp
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return when.timestamp()


class MemberError(LookupError):
    """A #member that the value does not have."""


class UndecodedStructure(MemberError):
    """A structure whose type definition is not loaded yet (asyncua left it encoded)."""


def member_of(value: Any, member: tuple[str | int, ...]) -> Any:
    """The member of a structure or array named by `member` (field names, indices)."""
    for part in member:
        if isinstance(value, ua.ExtensionObject):
            raise UndecodedStructure("structure type not known to the client yet")
        if isinstance(part, int):
            if not isinstance(value, list | tuple):
                raise MemberError(f"[{part}]: the value is not an array")
            if part >= len(value):
                raise MemberError(f"[{part}]: the array has only {len(value)} elements")
            value = value[part]
        elif isinstance(value, dict):
            if part not in value:
                raise MemberError(f".{part}: no such field")
            value = value[part]
        elif hasattr(value, "__dataclass_fields__") and part in value.__dataclass_fields__:
            value = getattr(value, part)
        else:
            raise MemberError(f".{part}: no such field in {type(value).__name__}")
    return value


def plain(value: Any) -> Any:
    """asyncua value -> plain Python (bool, int, float, str, lists of them; others unchanged)."""
    if isinstance(value, bool | int | float | str) and not isinstance(value, enum.Enum):
        return value
    if isinstance(value, enum.Enum):
        return int(value.value) if isinstance(value.value, int) else value.value
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, ua.LocalizedText):
        return value.Text
    if isinstance(value, ua.QualifiedName):
        return value.Name
    if isinstance(value, ua.NodeId):
        return value.to_string()
    if isinstance(value, ua.StatusCode):
        return value.value
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


_INT_RANGES: dict[ua.VariantType, tuple[int, int]] = {
    ua.VariantType.SByte: (-(2**7), 2**7 - 1),
    ua.VariantType.Byte: (0, 2**8 - 1),
    ua.VariantType.Int16: (-(2**15), 2**15 - 1),
    ua.VariantType.UInt16: (0, 2**16 - 1),
    ua.VariantType.Int32: (-(2**31), 2**31 - 1),
    ua.VariantType.UInt32: (0, 2**32 - 1),
    ua.VariantType.Int64: (-(2**63), 2**63 - 1),
    ua.VariantType.UInt64: (0, 2**64 - 1),
}
_FLOAT32_MAX = 3.4028234663852886e38


def _to_int(value: Any, vtype: ua.VariantType) -> int:
    number: int | None = None
    if isinstance(value, bool | int) or (isinstance(value, float) and value.is_integer()):
        number = int(value)
    elif isinstance(value, str):
        try:
            number = int(value.strip(), 0)
        except ValueError:
            number = None
    if number is None:
        raise ValueError(f"{value!r} is not an integer for {vtype.name}")
    low, high = _INT_RANGES[vtype]
    if not low <= number <= high:
        raise ValueError(f"{number} is out of range for {vtype.name} ({low}..{high})")
    return number


def _to_float(value: Any, vtype: ua.VariantType) -> float:
    try:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError
        number = float(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a number for {vtype.name}") from None
    if vtype == ua.VariantType.Float and math.isfinite(number) and abs(number) > _FLOAT32_MAX:
        raise ValueError(f"{number} is out of range for Float (32-bit)")
    return number


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise ValueError(f"{value!r} is not a Boolean (expected true/false or 0/1)")


def _infer(value: Any) -> ua.VariantType:
    """A type for nodes whose DataType is abstract (BaseDataType, Number)."""
    if isinstance(value, bool):
        return ua.VariantType.Boolean
    if isinstance(value, int):
        return ua.VariantType.Int32 if -(2**31) <= value < 2**31 else ua.VariantType.Int64
    if isinstance(value, float):
        return ua.VariantType.Double
    if isinstance(value, str):
        return ua.VariantType.String
    raise ValueError(f"{value!r} cannot be written to a node of abstract type")


def _scalar(value: Any, vtype: ua.VariantType) -> Any:
    if vtype in _INT_RANGES:
        return _to_int(value, vtype)
    if vtype in (ua.VariantType.Float, ua.VariantType.Double):
        return _to_float(value, vtype)
    if vtype == ua.VariantType.Boolean:
        return _to_bool(value)
    if vtype == ua.VariantType.String:
        if value is None or isinstance(value, list | tuple | dict):
            raise ValueError(f"{value!r} is not a string")
        return str(value)
    if vtype == ua.VariantType.LocalizedText:
        return ua.LocalizedText(str(value))
    if vtype == ua.VariantType.DateTime:
        if isinstance(value, datetime.datetime):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.datetime.fromtimestamp(value, datetime.UTC)
        try:
            return datetime.datetime.fromisoformat(str(value))
        except ValueError:
            raise ValueError(f"{value!r} is not a date and time (ISO 8601)") from None
    raise ValueError(f"writing {vtype.name} nodes is not supported")


def to_variant(value: Any, vtype: ua.VariantType, is_array: bool | None) -> ua.Variant:
    """The Variant to write `value` to a node of DataType `vtype` (is_array None: either)."""
    if is_array is None:
        is_array = isinstance(value, list | tuple)
    if is_array:
        if not isinstance(value, list | tuple):
            raise ValueError(f"the node holds an array of {vtype.name}: write a list")
        if vtype == ua.VariantType.Variant:
            vtype = _infer(value[0]) if value else ua.VariantType.Double
        return ua.Variant([_scalar(v, vtype) for v in value], vtype, is_array=True)
    if isinstance(value, list | tuple):
        raise ValueError(f"the node holds one {vtype.name}, not an array")
    if vtype == ua.VariantType.Variant:
        vtype = _infer(value)
    return ua.Variant(_scalar(value, vtype), vtype)

"""How the diagnostics screen writes times, numbers and protocol names (no Qt widgets here)."""

from __future__ import annotations

import math
import time
from datetime import datetime

from screens.i18n import tr

__all__ = ["clock_text", "number_text", "protocol_text"]


def clock_text(ts: float | None) -> str:
    """A time as a person reads it: the clock for today, with the date for older times."""
    if ts is None or not math.isfinite(ts) or ts <= 0:
        return ""
    when = datetime.fromtimestamp(ts)
    if when.date() == datetime.fromtimestamp(time.time()).date():
        return when.strftime("%H:%M:%S")
    return when.strftime("%Y-%m-%d %H:%M:%S")


def number_text(value: object, decimals: int = 1) -> str:
    """A number with fixed decimals; an integer as is; '' for no number."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.{decimals}f}"
    return ""


def protocol_text(scheme: str) -> str:
    """The protocol of an address scheme, as named on a device's data sheet."""
    names = {
        "modbus": "Modbus TCP",
        "opcua": "OPC UA",
        "mqtt": "MQTT",
        "spb": "Sparkplug B",
        "sim": tr("simulator"),
    }
    return names.get(scheme, scheme)

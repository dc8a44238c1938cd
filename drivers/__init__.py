"""Protocol drivers and simulators; the scheme table maps an address scheme to its driver class.

Nothing here may import `hmi`, `screens` or Qt. Driver modules are imported on first use, so
loading a project that uses only Modbus never imports the OPC UA or MQTT libraries; a project
is checked with each scheme's spec (`driver_spec`: parse, natural_type, OPTIONS), which for
OPC UA is a light module, so loading never imports asyncua (the station's start does).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from drivers.address import AddressError
from drivers.base import Driver

# scheme -> "module:Class"
SCHEMES: dict[str, str] = {
    "modbus": "drivers.modbus.driver:ModbusDriver",
    "opcua": "drivers.opcua.driver:OpcUaDriver",
    "mqtt": "drivers.mqtt.driver:MqttDriver",
    "spb": "drivers.mqtt.driver:MqttDriver",  # Sparkplug B: the MQTT driver, same broker link
}


# schemes whose library takes most of a second of CPU to import (asyncua): a runtime that wants
# its first values soon imports these after the others have delivered theirs
SLOW_IMPORTS = frozenset({"opcua"})

# scheme -> "module:Class" of what project loading needs (where lighter than the driver)
SPECS: dict[str, str] = {"opcua": "drivers.opcua.spec:OpcUaSpec"}


def driver_spec(scheme: str) -> Any:
    """The class-level part of a scheme's driver (parse, natural_type, OPTIONS) for checking
    projects; raises AddressError for an unknown scheme."""
    if scheme not in SPECS:
        return driver_class(scheme)  # the driver itself (raises with the known schemes)
    module, _, name = SPECS[scheme].partition(":")
    return getattr(import_module(module), name)


def driver_class(scheme: str) -> type[Driver]:
    """The driver class for a scheme; raises AddressError for an unknown scheme."""
    try:
        target = SCHEMES[scheme]
    except KeyError:
        known = ", ".join(sorted(SCHEMES))
        raise AddressError(
            f"{scheme}://", f"unknown scheme {scheme!r} (expected one of {known})"
        ) from None
    module, _, name = target.partition(":")
    cls: type[Driver] = getattr(import_module(module), name)
    return cls

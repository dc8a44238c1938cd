"""Protocol drivers and simulators; the scheme table maps an address scheme to its driver class.

Nothing here may import `hmi`, `screens` or Qt. Driver modules are imported on first use, so
loading a project that uses only Modbus never imports the OPC UA or MQTT libraries.
"""

from __future__ import annotations

from importlib import import_module

from drivers.address import AddressError
from drivers.base import Driver

# scheme -> "module:Class"
SCHEMES: dict[str, str] = {
    "modbus": "drivers.modbus.driver:ModbusDriver",
    "opcua": "drivers.opcua.driver:OpcUaDriver",
    "mqtt": "drivers.mqtt.driver:MqttDriver",
    "spb": "drivers.mqtt.driver:MqttDriver",  # Sparkplug B: the MQTT driver, same broker link
}


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

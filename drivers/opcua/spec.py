"""What a project needs to know of OPC UA without the protocol library: address syntax, the
natural type of an address, and the device options. Loading a project imports this, not
asyncua (about half a second), which the driver imports when a station starts it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from drivers.address import Address
from drivers.opcua.nodeid import opcua_address, parse_address

__all__ = ["OPTIONS", "OpcUaSpec"]

OPTIONS: dict[str, type] = {
    "endpoint": str,
    "security": str,
    "mode": str,
    "username": str,
    "publishing_interval": float,
    "sampling_interval": float,
    "queue_size": int,
    "reconnect_min": float,
    "reconnect_max": float,
    "watchdog": float,
    "batch_size": int,
}


class OpcUaSpec:
    """The `opcua://` scheme's class-level part: parse, natural type, device options."""

    scheme: ClassVar[str] = "opcua"
    OPTIONS: ClassVar[Mapping[str, type]] = OPTIONS

    @classmethod
    def parse(cls, text: str) -> Address:
        """Validate and canonicalise an `opcua://` address; raise AddressError."""
        return parse_address(text)

    @classmethod
    def natural_type(cls, address: Address) -> str:
        """Not known without asking the server: 'float' (declare the tag's type otherwise)."""
        opcua_address(address)  # still validates
        return "float"

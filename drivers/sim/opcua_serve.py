"""An OPC UA server for the gas gate station simulator (asyncua, Security None, 127.0.0.1).

Owns the link between the `GasGate` model and the wire: the address space (namespace
`urn:conduit-hmi:sim:gasgate`, folder GS1 with one folder per station part, one variable per
point with its DataType, Description, EngineeringUnits and EURange, string NodeIds
`ns=<idx>;s=GS1.PT101`), the stepping loop that writes every changed value with its
SourceTimestamp, client writes to the command points (validated by the model; a refused write
answers BadOutOfRange and changes nothing) and the LinkLoss fault (the listener and every
connection close; removing the fault listens again on the same port, same address space).
"""

from __future__ import annotations

import dataclasses
import logging
import socket
from collections.abc import Callable
from datetime import UTC
from typing import Any

from asyncua import ua
from asyncua.common.node import Node
from asyncua.server.address_space import NodeData
from asyncua.server.server import Server
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.status_codes import StatusCodes
from asyncua.ua.uaerrors import UaStatusCodeError

from drivers.sim.gasgate import GasGate, GasGateConfig
from drivers.sim.gasgate_points import FOLDERS, GAS_POINTS, NAMESPACE_URI, STATION, GasPoint
from drivers.sim.stepping import Stepper

Endpoint = tuple[str, int]
log = logging.getLogger("drivers.sim.opcua")
# building the standard address space logs a line per node whose parent the nodeset lacks
# (thousands at INFO); the simulator reports what matters itself
logging.getLogger("asyncua.server").setLevel(logging.WARNING)

APPLICATION_URI = NAMESPACE_URI + ":server"
_VARIANT = {
    "Double": ua.VariantType.Double,
    "Boolean": ua.VariantType.Boolean,
    "UInt32": ua.VariantType.UInt32,
}
_UNECE = "http://www.opcfoundation.org/UA/units/un/cefact"
# unit -> UNECE Rec. 20 common code (Nm³ is reported as m³, with its own display name)
_UNIT_CODES = {
    "MPa": "MPA",
    "kPa": "KPA",
    "°C": "CEL",
    "m³/h": "MQH",
    "Nm³/h": "MQH",
    "m³": "MTQ",
    "Nm³": "MTQ",
    "kW": "KWT",
    "%": "P1",
    "L": "LTR",
}


def engineering_units(unit: str) -> ua.EUInformation:
    """OPC UA EUInformation for `unit` (UnitId −1 when it has no UNECE code)."""
    code = _UNIT_CODES.get(unit)
    unit_id = -1
    if code is not None:
        unit_id = 0
        for char in code:
            unit_id = (unit_id << 8) | ord(char)
    return ua.EUInformation(
        NamespaceUri=_UNECE,
        UnitId=unit_id,
        DisplayName=ua.LocalizedText(unit),
        Description=ua.LocalizedText(unit),
    )


def _node_id(text: str, index: int) -> ua.NodeId:
    return ua.NodeId(ua.String(text), ua.Int16(index))


def _now() -> ua.DateTime:
    return ua.DateTime.now(UTC)


def _variant(point: GasPoint, value: float | bool) -> ua.Variant:
    if point.dtype == "UInt32":
        return ua.Variant(min(max(int(value), 0), 0xFFFFFFFF), ua.VariantType.UInt32)
    if point.is_bool:
        return ua.Variant(bool(value), ua.VariantType.Boolean)
    return ua.Variant(float(value), ua.VariantType.Double)


class GasGateSimulator:
    """The gas station served over OPC UA, stepped in real time."""

    def __init__(self, config: GasGateConfig | None = None) -> None:
        self._config = config
        self._plant: GasGate | None = None
        self._server: Server | None = None
        self._online = False
        self._endpoint: Endpoint = ("127.0.0.1", 0)
        self._nodes: dict[str, ua.NodeId] = {}
        self._sent: dict[str, Any] = {}
        self._namespace = 0
        self._stepper: Stepper | None = None

    @property
    def plant(self) -> GasGate:
        """The running station model (for fault injection and inspection)."""
        if self._plant is None:
            raise RuntimeError("the simulator is not started")
        return self._plant

    @property
    def endpoint(self) -> Endpoint:
        """Where the server listens (host, port)."""
        return self._endpoint

    @property
    def url(self) -> str:
        """The server's endpoint URL."""
        host, port = self._endpoint
        return f"opc.tcp://{host}:{port}/"

    @property
    def online(self) -> bool:
        """True while the server listens."""
        return self._online

    @property
    def namespace_index(self) -> int:
        """Index of `NAMESPACE_URI` in the server's namespace array."""
        return self._namespace

    async def start(
        self, endpoint: Endpoint, speed: float = 1.0, seed: int = 1, step: float = 0.2
    ) -> None:
        """Build the station and its address space, listen on `endpoint`, start stepping."""
        if self._stepper is not None:
            raise RuntimeError("the simulator is already running")
        host, port = endpoint
        try:  # fail fast: building the address space takes seconds
            socket.create_server((host, port)).close()
        except OSError as exc:
            raise OSError(f"{STATION}: cannot listen on {host}:{port} ({exc})") from exc
        self._endpoint = endpoint
        plant = self._plant = GasGate(self._config, seed=seed, speed=speed)
        stepper = self._stepper = Stepper(plant, step)
        try:
            self._server = await self._build()
            await self._publish()
            await self._reconcile()
        except BaseException:
            await self.stop()
            raise
        stepper.start(self._after_step, "conduit-sim-gasgate")

    async def stop(self) -> None:
        """Stop stepping, close the listener and every connection."""
        stepper, self._stepper = self._stepper, None
        if stepper is not None:
            await stepper.stop()
        server, self._server = self._server, None
        if server is not None:
            if self._online and server.bserver is not None:
                await server.bserver.stop()
            self._online = False
            server.bserver = None  # already closed (or never opened): stop only the core
            await server.stop()

    # ----------------------------------------------------------------- address space
    async def _build(self) -> Server:
        host, port = self._endpoint
        server = Server()
        await server.init()
        server.set_endpoint(f"opc.tcp://{host}:{port}/")
        server.set_server_name(f"Conduit HMI simulator, gas gate station {STATION}")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        server.set_identity_tokens([ua.AnonymousIdentityToken])
        await server.set_application_uri(APPLICATION_URI)
        idx = self._namespace = await server.register_namespace(NAMESPACE_URI)
        station = await server.nodes.objects.add_folder(
            _node_id(STATION, idx), ua.QualifiedName(STATION, idx)
        )
        folders: dict[str, Node] = {}
        for name in FOLDERS:
            folders[name] = await station.add_folder(
                _node_id(f"{STATION}.{name}", idx), ua.QualifiedName(name, idx)
            )
        plant = self.plant
        for point in GAS_POINTS:
            variant = _variant(point, plant.read(point.name))
            node = await folders[point.folder].add_variable(
                _node_id(point.node_id, idx),
                ua.QualifiedName(point.tag, idx),
                variant.Value,
                varianttype=variant.VariantType,
                datatype=getattr(ObjectIds, point.dtype),
            )
            await node.write_attribute(
                AttributeIds.Description,
                ua.DataValue(ua.Variant(ua.LocalizedText(point.description))),
            )
            if point.unit:
                await node.add_property(
                    _node_id(f"{point.node_id}.EngineeringUnits", idx),
                    ua.QualifiedName("EngineeringUnits", 0),
                    engineering_units(point.unit),
                    datatype=ObjectIds.EUInformation,
                )
            if point.low is not None and point.high is not None:
                await node.add_property(
                    _node_id(f"{point.node_id}.EURange", idx),
                    ua.QualifiedName("EURange", 0),
                    ua.Range(point.low, point.high),
                    datatype=ObjectIds.Range,
                )
            if point.writable:
                await node.set_writable()
                server.set_attribute_value_setter(node.nodeid, self._setter(point))
            self._nodes[point.name] = node.nodeid
        await server.start()
        self._online = True
        return server

    def _setter(self, point: GasPoint) -> Callable[[NodeData, AttributeIds, ua.DataValue], None]:
        """A value setter that applies client writes to the model (and refuses bad ones)."""

        def setter(node: NodeData, attr: AttributeIds, value: ua.DataValue) -> None:
            new = value.Value.Value if value.Value is not None else None
            plant = self.plant
            if new is not None and new != plant.true_value(point.name):
                try:
                    plant.write(point.name, new)
                except ValueError as exc:  # nothing applied: the node keeps its value
                    log.info("refused write: %s", exc)
                    raise UaStatusCodeError(StatusCodes.BadOutOfRange) from exc  # type: ignore[no-untyped-call]
                if self._stepper is not None:
                    self._stepper.wake()  # publish the effect at once
            if value.SourceTimestamp is None:
                value = dataclasses.replace(value, SourceTimestamp=_now())
            node.attributes[attr].value = value

        return setter

    # ----------------------------------------------------------------- stepping
    async def _after_step(self) -> None:
        await self._publish()
        await self._reconcile()

    async def _publish(self) -> None:
        """Write every point whose published value changed, stamped with the time now."""
        server = self._server
        if server is None:
            return
        plant = self.plant
        now = _now()
        sent = self._sent
        for point in GAS_POINTS:
            value = plant.read(point.name)
            if sent.get(point.name) == value:
                continue  # unchanged (or a frozen meter): the SourceTimestamp stays old
            sent[point.name] = value
            dv = ua.DataValue(_variant(point, value), SourceTimestamp=now, ServerTimestamp=now)
            await server.write_attribute_value(self._nodes[point.name], dv)

    async def _reconcile(self) -> None:
        """Close or reopen the listener to match the LinkLoss fault."""
        server = self._server
        if server is None or server.bserver is None:
            return
        lost = self.plant.faults.link_lost
        if lost and self._online:
            await server.bserver.stop()
            self._online = False
            log.info("%s: link lost, OPC UA server closed", STATION)
        elif not lost and not self._online:
            try:
                await server.bserver.start()
            except OSError as exc:  # the port is taken meanwhile: try again next step
                log.warning("%s: cannot listen again on %s (%s)", STATION, self.url, exc)
                return
            self._online = True
            log.info("%s: link restored, OPC UA server listening on %s", STATION, self.url)

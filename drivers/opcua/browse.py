"""Browsing an OPC UA server's address space for the tag editor.

`browse(client, path)` lists the Object and Variable children of one node over a connected
asyncua client (a running driver's session); `browse_device(device, path)` does the same on a
short connection of its own, with the device's endpoint, security and login. `path` is the
NodeId text of the node to expand (as returned in `BrowseNode.node_id`; `nsu=` allowed), or ""
for the Objects folder. Each child costs no extra round trip: one Browse (plus BrowseNext for
long lists), one Read of the variables' DataType and AccessLevel, one Read of the names of
non-standard data types, and one Browse asking each child for a single reference.
"""

from __future__ import annotations

from dataclasses import dataclass

from asyncua import ua
from asyncua.client.client import Client
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.object_ids import ObjectIdNames, ObjectIds

from drivers.base import DeviceConfig
from drivers.opcua.connect import Options, open_client
from drivers.opcua.nodeid import parse_nodeid
from drivers.opcua.plan import ua_nodeid

_HIERARCHICAL = ua.NodeId(ua.Int32(ObjectIds.HierarchicalReferences))
_SHOWN = ua.NodeClass.Object | ua.NodeClass.Variable


@dataclass(frozen=True, slots=True)
class BrowseNode:
    """One child node as the tag editor shows it."""

    node_id: str  # NodeId text, e.g. 'ns=2;s=HS1.TT101'
    browse_name: str
    display_name: str
    node_class: str  # 'Object', 'Variable', …
    data_type: str = ""  # for variables: 'Double', 'Int16', a structure's name, …
    writable: bool = False  # for variables: the current user may write the value
    has_children: bool = False


def _description(node: ua.NodeId) -> ua.BrowseDescription:
    return ua.BrowseDescription(
        NodeId=node,
        BrowseDirection=ua.BrowseDirection.Forward,
        ReferenceTypeId=_HIERARCHICAL,
        IncludeSubtypes=True,
        NodeClassMask=ua.UInt32(_SHOWN),
        ResultMask=ua.UInt32(ua.BrowseResultMask.All),
    )


async def _browse_all(client: Client, node: ua.NodeId) -> list[ua.ReferenceDescription]:
    params = ua.BrowseParameters(NodesToBrowse=[_description(node)])
    result = (await client.uaclient.browse(params))[0]
    result.StatusCode.check()
    refs = list(result.References)
    while result.ContinuationPoint:
        next_params = ua.BrowseNextParameters(ContinuationPoints=[result.ContinuationPoint])
        result = (await client.uaclient.browse_next(next_params))[0]
        result.StatusCode.check()
        refs.extend(result.References)
    return refs


async def _node(client: Client, path: str) -> ua.NodeId:
    if not path:
        return ua.NodeId(ua.Int32(ObjectIds.ObjectsFolder))
    ref = parse_nodeid(path)
    if isinstance(ref.namespace, int):
        return ua_nodeid(ref, ref.namespace)
    namespaces = await client.get_namespace_array()
    if ref.namespace not in namespaces:
        raise ValueError(f"namespace {ref.namespace!r} is not on the server")
    return ua_nodeid(ref, namespaces.index(ref.namespace))


async def browse(client: Client, path: str = "") -> list[BrowseNode]:
    """The Object and Variable children of `path` ('' = Objects folder), sorted by name."""
    refs = await _browse_all(client, await _node(client, path))
    ids = [ref.NodeId for ref in refs]
    variables = [r.NodeId for r in refs if r.NodeClass == ua.NodeClass.Variable]
    attrs: dict[str, tuple[ua.NodeId | None, int]] = {}
    if variables:
        reads = [
            ua.ReadValueId(NodeId=n, AttributeId=a)
            for n in variables
            for a in (AttributeIds.DataType, AttributeIds.UserAccessLevel)
        ]
        values = await client.uaclient.read(ua.ReadParameters(NodesToRead=reads))
        for i, node in enumerate(variables):
            type_value, access_value = values[2 * i].Value, values[2 * i + 1].Value
            data_type = type_value.Value if type_value is not None else None
            access = access_value.Value if access_value is not None else 0
            attrs[node.to_string()] = (
                data_type if isinstance(data_type, ua.NodeId) else None,
                int(access or 0),
            )
    names = await _type_names(client, [t for t, _ in attrs.values() if t is not None])
    children: list[bool] = []
    if ids:
        params = ua.BrowseParameters(
            NodesToBrowse=[_description(n) for n in ids],
            RequestedMaxReferencesPerNode=ua.UInt32(1),
        )
        children = [bool(r.References) for r in await client.uaclient.browse(params)]
    nodes = []
    for ref, has_children in zip(refs, children, strict=True):
        dtype, access = attrs.get(ref.NodeId.to_string(), (None, 0))
        nodes.append(
            BrowseNode(
                node_id=ref.NodeId.to_string(),
                browse_name=ref.BrowseName.Name or "",
                display_name=ref.DisplayName.Text or ref.BrowseName.Name or "",
                node_class=ref.NodeClass.name,
                data_type=names.get(dtype.to_string(), "") if dtype is not None else "",
                writable=bool(access & ua.AccessLevelType.CurrentWrite),
                has_children=has_children,
            )
        )
    return sorted(nodes, key=lambda n: (n.node_class != "Object", n.display_name.lower()))


async def _type_names(client: Client, types: list[ua.NodeId]) -> dict[str, str]:
    """Names of data types: standard ones from the table, others by reading their BrowseName."""
    names: dict[str, str] = {}
    unknown: list[ua.NodeId] = []
    for t in types:
        key = t.to_string()
        if key in names:
            continue
        if (
            t.NamespaceIndex == 0
            and isinstance(t.Identifier, int)
            and t.Identifier in ObjectIdNames
        ):
            names[key] = ObjectIdNames[int(t.Identifier)]
        else:
            names[key] = key
            unknown.append(t)
    if unknown:
        reads = [ua.ReadValueId(NodeId=t, AttributeId=AttributeIds.BrowseName) for t in unknown]
        answers = await client.uaclient.read(ua.ReadParameters(NodesToRead=reads))
        for t, dv in zip(unknown, answers, strict=True):
            if dv.Value is not None and isinstance(dv.Value.Value, ua.QualifiedName):
                names[t.to_string()] = dv.Value.Value.Name or t.to_string()
    return names


async def browse_device(device: DeviceConfig, path: str = "") -> list[BrowseNode]:
    """Browse on a short connection of its own (no running driver needed)."""
    client = await open_client(device, Options.of(device))
    try:
        return await browse(client, path)
    finally:
        await client.disconnect()

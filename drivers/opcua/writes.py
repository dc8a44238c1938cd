"""Writes: the node's data type, read once per session, decides the Variant a value becomes."""

from __future__ import annotations

from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.node import Node
from asyncua.common.ua_utils import data_type_to_variant_type
from asyncua.ua.attribute_ids import AttributeIds

from drivers.opcua.values import to_variant

TypeCache = dict[str, tuple[ua.VariantType, bool | None]]


async def data_type(client: Client, node_id: ua.NodeId) -> tuple[ua.VariantType, bool | None]:
    """A node's value type and whether it holds an array (None: either); raises on bad status."""
    results = await client.uaclient.read(
        ua.ReadParameters(
            NodesToRead=[
                ua.ReadValueId(NodeId=node_id, AttributeId=AttributeIds.DataType),
                ua.ReadValueId(NodeId=node_id, AttributeId=AttributeIds.ValueRank),
            ]
        )
    )
    for result in results:
        if result.StatusCode is not None:
            result.StatusCode.check()
    dtype = results[0].Value.Value if results[0].Value is not None else None
    rank = results[1].Value.Value if results[1].Value is not None else -1
    if not isinstance(dtype, ua.NodeId):
        raise ValueError("the node has no data type (is it a variable?)")
    ident = dtype.Identifier
    if dtype.NamespaceIndex == 0 and isinstance(ident, int) and 1 <= ident <= 25:
        vtype = ua.VariantType(int(ident))
    else:  # a subtype (UtcTime, Duration, an enumeration, …): asyncua walks up to its base
        vtype = await data_type_to_variant_type(Node(client.uaclient.session, dtype))
    array: bool | None = True if rank >= 0 else False if rank == -1 else None
    return vtype, array


async def write_value(
    client: Client, node_id: ua.NodeId, value: Any, cache: TypeCache
) -> ua.StatusCode:
    """Write `value` typed as the node's DataType (cached); the server's status for the write."""
    key = node_id.to_string()
    if key not in cache:
        cache[key] = await data_type(client, node_id)
    variant = to_variant(value, *cache[key])
    results = await client.uaclient.write(
        ua.WriteParameters(
            NodesToWrite=[
                ua.WriteValue(
                    NodeId=node_id, AttributeId=AttributeIds.Value, Value=ua.DataValue(variant)
                )
            ]
        )
    )
    return results[0]

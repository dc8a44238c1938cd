"""Planning: which nodes a set of points needs read, and how.

`plan` turns points into `Item`s: one per subscription key (the address without its #member),
shared by every point that names a member of it, with its sampling (or poll) interval and the
publishing interval of the subscription it belongs to. Pure functions, no I/O.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from asyncua import ua
from asyncua.ua.attribute_ids import AttributeIds

from drivers.base import Point, Quality, Reason, Sample
from drivers.opcua.connect import Options
from drivers.opcua.nodeid import NodeRef, OpcUaAddress, opcua_address

log = logging.getLogger("drivers.opcua")
T = TypeVar("T")
KEEPALIVE_S = 5.0  # the server sends an empty publish response at least this often


@dataclass(eq=False)
class Item:
    """One node read for one subscription key; `points` maps point keys to their #member."""

    key: str
    where: OpcUaAddress  # its member is always (): the points carry theirs
    interval: float  # sampling interval (sub) or poll period (poll), seconds
    publishing: float  # publishing interval of its subscription (sub)
    points: dict[str, tuple[str | int, ...]] = field(default_factory=dict)

    def same_reading(self, other: Item) -> bool:
        """True when `other` reads the node the same way (only its points may differ)."""
        return (self.where, self.interval, self.publishing) == (
            other.where,
            other.interval,
            other.publishing,
        )


def plan(points: Sequence[Point], options: Options) -> tuple[dict[str, Item], list[Sample]]:
    """Items for `points`, and config-error samples for points whose address is unusable."""
    items: dict[str, Item] = {}
    bad: list[Sample] = []
    for point in points:
        try:
            where = opcua_address(point.address)
        except ValueError as exc:
            log.warning("%s", exc)
            bad.append(Sample(point.key, None, Quality.BAD, Reason.CONFIG_ERROR))
            continue
        key = point.address.key
        item = items.get(key)
        if item is None:
            default = options.sampling_interval if where.mode == "sub" else None
            interval = max(where.interval or default or point.scan, 0.01)
            publishing = min(options.publishing_interval, interval)
            item = items[key] = Item(key, replace(where, member=()), interval, publishing)
        elif where.interval is None:
            item.interval = min(item.interval, max(point.scan, 0.01))  # fastest scan wins
            item.publishing = min(options.publishing_interval, item.interval)
        item.points[point.key] = where.member
    return items, bad


def ua_nodeid(node: NodeRef, index: int) -> ua.NodeId:
    """The asyncua NodeId for a parsed NodeId in namespace `index`."""
    ns = ua.Int16(index)
    if node.kind == "i":
        return ua.NodeId(ua.Int32(int(node.identifier)), ns)
    if node.kind == "s":
        return ua.NodeId(ua.String(str(node.identifier)), ns, ua.NodeIdType.String)
    if node.kind == "g":
        return ua.NodeId(ua.Guid(str(node.identifier)), ns, ua.NodeIdType.Guid)
    assert isinstance(node.identifier, bytes)
    return ua.NodeId(ua.ByteString(node.identifier), ns, ua.NodeIdType.ByteString)


def chunks(values: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    """`values` in consecutive slices of at most `size`."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def subscription_parameters(publishing: float) -> ua.CreateSubscriptionParameters:
    """CreateSubscription parameters for a publishing interval (seconds), keep-alive ~5 s."""
    keepalive = max(1, math.ceil(KEEPALIVE_S / publishing))
    return ua.CreateSubscriptionParameters(
        RequestedPublishingInterval=ua.Double(publishing * 1000.0),
        RequestedLifetimeCount=ua.UInt32(keepalive * 10),
        RequestedMaxKeepAliveCount=ua.UInt32(keepalive),
        MaxNotificationsPerPublish=ua.UInt32(0),
        PublishingEnabled=True,
        Priority=ua.Byte(0),
    )


def monitored_item(
    handle: int, node_id: ua.NodeId | None, item: Item, queue_size: int
) -> ua.MonitoredItemCreateRequest:
    """A monitored item for an item's node value: sampling interval, queue, deadband filter."""
    params = ua.MonitoringParameters(
        ClientHandle=ua.UInt32(handle),
        SamplingInterval=ua.Double(item.interval * 1000.0),
        QueueSize=ua.UInt32(queue_size),
        DiscardOldest=True,
    )
    if item.where.deadband:
        params.Filter = ua.DataChangeFilter(
            Trigger=ua.DataChangeTrigger.StatusValue,
            DeadbandType=ua.UInt32(ua.DeadbandType.Absolute),
            DeadbandValue=ua.Double(item.where.deadband),
        )
    return ua.MonitoredItemCreateRequest(
        ItemToMonitor=ua.ReadValueId(NodeId=node_id, AttributeId=AttributeIds.Value),
        MonitoringMode=ua.MonitoringMode.Reporting,
        RequestedParameters=params,
    )

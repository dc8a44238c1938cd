"""One live OPC UA session: subscriptions, monitored items, polled reads and writes.

A `Session` wraps one connected asyncua `Client` and is thrown away when the link is lost (the
driver opens a new one, so a restarted server gets its subscriptions and namespace indices
afresh). It works on the session services directly (CreateSubscription, CreateMonitoredItems in
batches, Read, Write) rather than asyncua's `Subscription` helper, whose handler mode starts one
task per data change: here each publish response becomes one batch of samples, and each poll
cycle of an interval another.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.status_codes import StatusCodes
from asyncua.ua.uaerrors import UaError, UaStatusCodeError

from drivers.base import DeviceConfig, Quality, Reason, Sample, Sink
from drivers.floats import float32_decimal
from drivers.opcua.connect import Options
from drivers.opcua.nodeid import NodeRef, OpcUaAddress
from drivers.opcua.plan import Item, chunks, monitored_item, subscription_parameters, ua_nodeid
from drivers.opcua.values import (
    MemberError,
    UndecodedStructure,
    member_of,
    plain,
    quality_of,
    status_name,
    timestamp,
)
from drivers.opcua.writes import TypeCache, write_value

log = logging.getLogger("drivers.opcua")


@dataclass(eq=False)
class _Live:
    """An item as it exists in this session."""

    item: Item
    node_id: ua.NodeId | None = None
    handle: int = 0
    server_id: int = 0
    sub_id: int = 0
    last: ua.DataValue | None = None
    status: int = 0


@dataclass(eq=False)
class _Sub:
    """One subscription of this session (one per publishing interval)."""

    sub_id: int
    publishing: float
    keepalive_s: float
    last_publish: float
    lives: dict[int, _Live] = field(default_factory=dict)  # by server id


class Session:
    """One connected client: keeps the server's subscriptions and polls in line with the items."""

    def __init__(
        self,
        client: Client,
        device: DeviceConfig,
        options: Options,
        sink: Sink,
        *,
        lose: Callable[[str], None],
        warned: set[str],
    ) -> None:
        self.client = client
        self._device = device
        self._options = options
        self._sink = sink
        self._lose = lose
        self._warned = warned  # item keys whose problem was logged (shared across sessions)
        self._lives: dict[str, _Live] = {}
        self._by_handle: dict[int, _Live] = {}
        self._subs: dict[float, _Sub] = {}
        self._sub_by_id: dict[int, _Sub] = {}
        self._polls: dict[float, asyncio.Task[None]] = {}
        self._namespaces: list[str] | None = None
        self._types: TypeCache = {}
        self._next_handle = 0
        self._types_task: asyncio.Task[None] | None = None
        self._types_loaded = False
        self._changes: dict[str, list[str]] = {}  # status name -> nodes that changed to it
        self._closed = False

    # -- items ------------------------------------------------------------------------------

    async def apply(self, items: dict[str, Item]) -> None:
        """Make the server side match `items`: create, delete and re-point monitored items."""
        gone = [
            live
            for key, live in self._lives.items()
            if key not in items or not live.item.same_reading(items[key])
        ]
        for old in gone:
            del self._lives[old.item.key]
        await self._delete(gone)
        added: list[_Live] = []
        refresh: list[Sample] = []
        for key, item in items.items():
            existing = self._lives.get(key)
            if existing is None:
                self._lives[key] = _Live(item)
                added.append(self._lives[key])
                continue
            new_points = set(item.points) - set(existing.item.points)
            existing.item = item
            if new_points and existing.last is not None:
                refresh.extend(self._samples(existing, existing.last, new_points))
        if refresh:
            self._sink(refresh)
        await self._resolve(added)
        await self._create([live for live in added if live.node_id is not None])
        self._restart_polls()

    async def _resolve(self, lives: list[_Live]) -> None:
        """Find each node's namespace index (nsu= by the server's namespace array)."""
        bad: list[Sample] = []
        for live in lives:
            try:
                live.node_id = await self.node_id(live.item.where.node)
            except ValueError as exc:
                self._warn_once(live, "%s: %s: %s", self._device.name, live.item.key, exc)
                bad.extend(self._bad(live, Reason.CONFIG_ERROR))
        if bad:
            self._sink(bad)

    def _warn_once(self, live: _Live, message: str, *args: object) -> None:
        if live.item.key not in self._warned:
            self._warned.add(live.item.key)
            log.warning(message, *args)

    def _bad(self, live: _Live, reason: Reason) -> list[Sample]:
        return [Sample(key, None, Quality.BAD, reason) for key in live.item.points]

    async def _subscription(self, publishing: float) -> _Sub:
        sub = self._subs.get(publishing)
        if sub is not None:
            return sub
        params = subscription_parameters(publishing)
        result = await self.client.uaclient.create_subscription(params, self._on_publish)
        revised = result.RevisedPublishingInterval / 1000.0 * result.RevisedMaxKeepAliveCount
        sub = _Sub(result.SubscriptionId, publishing, max(revised, 0.1), time.monotonic())
        self._subs[publishing] = self._sub_by_id[sub.sub_id] = sub
        return sub

    def _request(self, live: _Live) -> ua.MonitoredItemCreateRequest:
        self._next_handle += 1
        live.handle = self._next_handle
        self._by_handle[live.handle] = live
        return monitored_item(live.handle, live.node_id, live.item, self._options.queue_size)

    async def _create(self, lives: list[_Live]) -> None:
        """Create monitored items for the `sub` lives, in batches, one subscription per rate."""
        by_rate: dict[float, list[_Live]] = {}
        for live in lives:
            if live.item.where.mode == "sub":
                by_rate.setdefault(live.item.publishing, []).append(live)
        failed: dict[str, list[_Live]] = {}
        for publishing, group in by_rate.items():
            sub = await self._subscription(publishing)
            for batch in chunks(group, self._options.batch_size):
                # registered before the call: the first values may arrive before its answer
                requests = [self._request(live) for live in batch]
                results = await self.client.uaclient.create_monitored_items(
                    ua.CreateMonitoredItemsParameters(
                        SubscriptionId=sub.sub_id,
                        ItemsToCreate=requests,
                        TimestampsToReturn=ua.TimestampsToReturn.Both,
                    )
                )
                for live, result in zip(batch, results, strict=True):
                    if result.StatusCode.is_good():
                        live.server_id, live.sub_id = result.MonitoredItemId, sub.sub_id
                        sub.lives[live.server_id] = live
                    else:
                        self._by_handle.pop(live.handle, None)
                        failed.setdefault(result.StatusCode.name, []).append(live)
        bad: list[Sample] = []
        for name, group in failed.items():
            new = [live for live in group if live.item.key not in self._warned]
            self._warned.update(live.item.key for live in new)
            if new:
                log.warning(
                    "%s: the server refused %d monitored item(s) with %s (%s%s)",
                    self._device.name,
                    len(new),
                    name,
                    ", ".join(live.item.where.node.text() for live in new[:3]),
                    ", …" if len(new) > 3 else "",
                )
            code = int(getattr(StatusCodes, name, StatusCodes.Bad))
            for live in group:
                bad.extend(self._bad(live, quality_of(code)[1]))
        if bad:
            self._sink(bad)

    async def _delete(self, lives: list[_Live]) -> None:
        """Delete the monitored items of `lives`, and subscriptions left empty."""
        by_sub: dict[int, list[int]] = {}
        for live in lives:
            self._by_handle.pop(live.handle, None)
            sub = self._sub_by_id.get(live.sub_id)
            if sub is not None and sub.lives.pop(live.server_id, None) is not None:
                by_sub.setdefault(sub.sub_id, []).append(live.server_id)
        for sub_id, ids in by_sub.items():
            for batch in chunks(ids, self._options.batch_size):
                await self.client.uaclient.delete_monitored_items(
                    ua.DeleteMonitoredItemsParameters(
                        SubscriptionId=sub_id, MonitoredItemIds=[ua.UInt32(i) for i in batch]
                    )
                )
        for sub in [s for s in self._subs.values() if not s.lives]:
            del self._subs[sub.publishing], self._sub_by_id[sub.sub_id]
            await self.client.uaclient.delete_subscriptions([sub.sub_id])

    # -- values -----------------------------------------------------------------------------

    def _samples(
        self, live: _Live, dv: ua.DataValue, only: Iterable[str] | None = None
    ) -> list[Sample]:
        """Samples for the points of `live` from one DataValue."""
        live.last = dv
        code = dv.StatusCode.value if dv.StatusCode is not None else 0
        if code != live.status:
            self._status_changed(live, live.status, code)
            live.status = code
        quality, reason = quality_of(code)
        when = timestamp(dv)
        variant = dv.Value
        value = variant.Value if variant is not None else None
        float32 = variant is not None and variant.VariantType == ua.VariantType.Float
        if float32 and isinstance(value, float):
            value = float32_decimal(value)
        if quality is Quality.GOOD and value is None:
            quality, reason = Quality.BAD, Reason.INITIAL  # a good status with no value yet
        out: list[Sample] = []
        for key in only if only is not None else live.item.points:
            if quality is Quality.BAD:
                out.append(Sample(key, None, quality, reason, when))
                continue
            member = live.item.points[key]
            try:
                got = plain(member_of(value, member)) if member else plain(value)
            except UndecodedStructure:
                if not self._types_loaded:  # no sample yet: one follows once types are loaded
                    self._load_types()
                    continue
                out.append(Sample(key, None, Quality.BAD, Reason.DECODE_ERROR, when))
                continue
            except MemberError as exc:
                self._warn_once(live, "%s: %s: %s", self._device.name, key, exc)
                out.append(Sample(key, None, Quality.BAD, Reason.DECODE_ERROR, when))
                continue
            out.append(Sample(key, got, quality, reason, when))
        return out

    def _status_changed(self, live: _Live, old: int, new: int) -> None:
        if status_name(old) != status_name(new):
            self._changes.setdefault(status_name(new), []).append(live.item.where.node.text())

    def _push(self, batch: list[Sample]) -> None:
        """Hand a batch to the sink; log status changes it carried, one line per status."""
        for name, nodes in self._changes.items():
            shown = ", ".join(nodes[:3]) + (", …" if len(nodes) > 3 else "")
            if name == "Good":
                log.info("%s: %d node(s) good again: %s", self._device.name, len(nodes), shown)
            else:
                log.warning("%s: %d node(s) now %s: %s", self._device.name, len(nodes), name, shown)
        self._changes.clear()
        if batch:
            self._sink(batch)

    def _on_publish(self, result: ua.PublishResult) -> None:
        """One publish response -> one batch of samples."""
        if self._closed:  # asyncua tells a lost session's subscriptions, after we moved on
            return
        sub = self._sub_by_id.get(result.SubscriptionId)
        if sub is not None:
            sub.last_publish = time.monotonic()
        batch: list[Sample] = []
        for notification in result.NotificationMessage.NotificationData or []:
            if isinstance(notification, ua.DataChangeNotification):
                for item in notification.MonitoredItems:
                    live = self._by_handle.get(item.ClientHandle)
                    if live is not None:
                        batch.extend(self._samples(live, item.Value))
            elif (
                isinstance(notification, ua.StatusChangeNotification)
                and sub is not None
                and not notification.Status.is_good()
            ):
                name = notification.Status.name
                self._lose(f"{self._device.name}: subscription ended by the server ({name})")
        self._push(batch)

    def stale(self) -> str:
        """Why a subscription looks dead (no publish response for too long), or ''."""
        now = time.monotonic()
        for sub in self._subs.values():
            limit = 2.0 * sub.keepalive_s + 2.0 * self._device.timeout + 1.0
            if now - sub.last_publish > limit:
                return f"no publish response for {now - sub.last_publish:.0f}s"
        return ""

    def _load_types(self) -> None:
        """Load the server's structure definitions once, then re-read items with members."""
        if self._types_loaded or self._types_task is not None:
            return

        async def load() -> None:
            try:
                await self.client.load_data_type_definitions()
            except (TimeoutError, ConnectionError, OSError):
                return  # the link is going down; the next session tries again
            except Exception as exc:  # a server without 1.04 type definitions: say so, once
                log.warning("%s: cannot load structure types: %r", self._device.name, exc)
            self._types_loaded = True
            await self._read(
                [v for v in self._lives.values() if v.node_id and any(v.item.points.values())]
            )

        self._types_task = asyncio.create_task(load(), name="conduit-opcua-types")

    # -- polling ----------------------------------------------------------------------------

    def _restart_polls(self) -> None:
        for task in self._polls.values():
            task.cancel()
        rates = {
            live.item.interval
            for live in self._lives.values()
            if live.item.where.mode == "poll" and live.node_id is not None
        }
        self._polls = {
            rate: asyncio.create_task(self._poll(rate), name=f"conduit-opcua-poll-{rate}")
            for rate in sorted(rates)
        }

    async def _read(self, lives: list[_Live]) -> None:
        """Read `lives` in batches; push one batch of samples for all of them."""
        out: list[Sample] = []
        for batch in chunks(lives, self._options.batch_size):
            params = ua.ReadParameters(
                MaxAge=ua.Double(0),
                TimestampsToReturn=ua.TimestampsToReturn.Both,
                NodesToRead=[
                    ua.ReadValueId(NodeId=live.node_id, AttributeId=AttributeIds.Value)
                    for live in batch
                ],
            )
            try:
                results = await self.client.uaclient.read(params)
            except TimeoutError:
                for live in batch:
                    out.extend(self._bad(live, Reason.TIMEOUT))
                continue
            except UaStatusCodeError as exc:
                log.warning("%s: read refused: %r", self._device.name, exc)
                for live in batch:
                    out.extend(self._bad(live, Reason.DEVICE_ERROR))
                continue
            for live, dv in zip(batch, results, strict=True):
                out.extend(self._samples(live, dv))
        self._push(out)

    async def _poll(self, rate: float) -> None:
        """Read every poll item of this interval on a fixed grid, skipping missed ticks."""
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        try:
            while True:
                lives = [
                    live
                    for live in self._lives.values()
                    if live.item.where.mode == "poll"
                    and live.item.interval == rate
                    and live.node_id is not None
                ]
                await self._read(lives)
                now = loop.time()
                deadline += rate
                if deadline <= now:
                    deadline += (math.floor((now - deadline) / rate) + 1) * rate
                await asyncio.sleep(deadline - now)
        except (ConnectionError, OSError) as exc:
            self._lose(f"{self._device.name}: read failed: connection lost ({exc})")
        except Exception as exc:  # a bug or an answer asyncua cannot parse: reconnect, say why
            log.error("%s: polling failed", self._device.name, exc_info=exc)
            self._lose(f"{self._device.name}: polling failed ({exc!r})")

    # -- writes -----------------------------------------------------------------------------

    async def node_id(self, node: NodeRef) -> ua.NodeId:
        """The NodeId of `node` on this server (nsu= resolved); ValueError if unknown."""
        if isinstance(node.namespace, int):
            return ua_nodeid(node, node.namespace)
        if self._namespaces is None:
            self._namespaces = await self.client.get_namespace_array()
        if node.namespace not in self._namespaces:
            known = ", ".join(self._namespaces)
            raise ValueError(f"namespace {node.namespace!r} is not on the server (it has {known})")
        return ua_nodeid(node, self._namespaces.index(node.namespace))

    async def write(self, where: OpcUaAddress, value: Any) -> ua.StatusCode:
        """Write `value` typed as the node's DataType; the server's status for the write."""
        return await write_value(self.client, await self.node_id(where.node), value, self._types)

    # -- teardown ---------------------------------------------------------------------------

    async def close(self) -> None:
        """Stop polling, close the session (deleting its subscriptions) and the socket."""
        self._closed = True
        tasks = [*self._polls.values(), *([self._types_task] if self._types_task else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._polls = {}
        try:
            async with asyncio.timeout(2 * self._device.timeout + 1.0):
                await self.client.disconnect()
        except (TimeoutError, ConnectionError, OSError, UaError):
            self.client.disconnect_socket()

"""The MQTT driver: `mqtt://` topics and `spb://` Sparkplug B metrics over one broker session.

Owns the tag side of a broker link: which topics to subscribe (one wildcard for a crowded
prefix), turning each message into one batch of samples (one JSON decode per message however
many points read it), Sparkplug host duties (rebirth requests, optional STATE), writes, and link
statistics. The connection itself, reconnects included, belongs to `session.MqttSession`; its
callbacks run on the loop that runs `run`, so the sink is always called from that loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import replace
from typing import Any, ClassVar

from drivers.address import Address, AddressError
from drivers.base import (
    DeviceConfig,
    DriverError,
    LinkStats,
    Point,
    Quality,
    Reason,
    Sample,
    Sink,
    WriteResult,
)
from drivers.link import _OK, LinkMonitor
from drivers.mqtt import sparkplug as spb
from drivers.mqtt.edge import EdgeTracker, NodeId, command, rebirth_request
from drivers.mqtt.options import DEFAULTS, SESSION_OPTIONS, read_options
from drivers.mqtt.payload import (
    DecodeFailure,
    MqttAddress,
    SpbAddress,
    cover,
    decode_json_point,
    encode_write,
    mqtt_address,
    parse_json,
    parse_mqtt,
    parse_spb,
    plain_value,
    spb_address,
)
from drivers.mqtt.session import MqttNotConnected, MqttSession

log = logging.getLogger("drivers.mqtt")
# The session logs each link change once; the monitor only counts (a logger that never emits).
_SILENT = logging.Logger("drivers.mqtt.monitor")
_SILENT.disabled = True
_DRIVER_DEFAULTS: Mapping[str, Any] = {
    **DEFAULTS,
    "wildcard_threshold": 20,
    "sparkplug_host_id": "",
}


class _Monitor(LinkMonitor):
    """LinkMonitor that also counts received messages as answered requests (no round trip)."""

    def received(self) -> None:
        self.requests += 1
        self._outcomes.append(_OK)


def _now_ms() -> int:
    return int(time.time() * 1000)


class MqttDriver:
    """MQTT client for one broker: plain/JSON topics and Sparkplug B metrics, writes, stats."""

    scheme: ClassVar[str] = "mqtt"
    OPTIONS: ClassVar[Mapping[str, type]] = {
        **SESSION_OPTIONS,
        "wildcard_threshold": int,  # topics under one prefix that make one prefix/# subscription
        "sparkplug_host_id": str,  # when set: publish the Sparkplug 3.0 STATE of this host
    }

    @classmethod
    def parse(cls, text: str) -> Address:
        """Validate and canonicalise an `mqtt://` or `spb://` address; raise AddressError."""
        scheme = text.strip().split("://", 1)[0].lower()
        if scheme == "spb":
            return parse_spb(text)
        if scheme == "mqtt":
            return parse_mqtt(text)
        raise AddressError(
            text, f"the MQTT driver reads mqtt:// and spb:// addresses, not {scheme}"
        )

    @classmethod
    def natural_type(cls, address: Address) -> str:
        """string for payload=text/raw, else float (a payload's type shows only at run time)."""
        if address.scheme == "mqtt" and mqtt_address(address).payload in ("text", "raw"):
            return "string"
        return "float"

    def __init__(self, device: DeviceConfig, sink: Sink) -> None:
        unknown = sorted(set(device.options) - set(self.OPTIONS))
        if unknown:
            expected = ", ".join(self.OPTIONS)
            raise DriverError(f"{device.name}: unknown option {unknown[0]!r} (expected {expected})")
        self._device = device
        self._sink = sink
        self._opts = read_options(device, self.OPTIONS, _DRIVER_DEFAULTS)
        self._monitor = _Monitor(device.name, _SILENT)
        self._tracker = EdgeTracker(device.name)
        self._keys: list[str] = []
        self._topics: dict[str, list[tuple[str, MqttAddress]]] = {}
        self._nodes: list[NodeId] = []
        self._filters: dict[str, int] = {}
        self._decode_errors: dict[str, str] = {}  # key -> current decode problem
        self._session: MqttSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._marked_offline = False
        self._connections = 0
        self._born_at = _now_ms()  # Sparkplug STATE birth and will share one timestamp

    # -- points and subscriptions ---------------------------------------------------------------

    def _apply_points(self, points: Sequence[Point]) -> list[str]:
        """Rebuild topic and node tables; returns the keys that were not there before."""
        topics: dict[str, list[tuple[str, MqttAddress]]] = {}
        spb_points: dict[str, SpbAddress] = {}
        keys: list[str] = []
        bad: list[Sample] = []
        for point in points:
            key = point.key
            try:
                if point.address.scheme == "spb":
                    spb_points[key] = spb_address(point.address)
                else:
                    where = mqtt_address(point.address)
                    topics.setdefault(where.topic, []).append((key, where))
            except AddressError as exc:
                log.warning("%s: %s", self._device.name, exc)
                bad.append(Sample(key, None, Quality.BAD, Reason.CONFIG_ERROR))
                continue
            keys.append(key)
        before, now = set(self._keys), set(keys)
        added = [k for k in keys if k not in before]
        self._keys = keys
        self._topics = topics
        self._decode_errors = {k: v for k, v in self._decode_errors.items() if k in now}
        self._nodes = self._tracker.set_points(spb_points)
        default_qos = self._opts["qos"]
        wanted = {
            topic: max(w.qos if w.qos is not None else default_qos for _, w in readers)
            for topic, readers in topics.items()
        }
        self._filters = cover(wanted, self._opts["wildcard_threshold"])
        for group, edge in self._nodes:
            self._filters[f"{spb.NAMESPACE}/{group}/+/{edge}/#"] = 0  # Sparkplug: QoS 0 data
        if bad:
            self._sink(bad)
        return added

    async def set_points(self, points: Sequence[Point]) -> None:
        """Replace the set of points while running; subscribes and unsubscribes the difference."""
        old_filters, old_nodes = dict(self._filters), set(self._nodes)
        added = self._apply_points(points)
        if self._marked_offline and added:
            self._sink([Sample(k, None, Quality.BAD, Reason.COMM_FAILURE) for k in added])
        session = self._session
        if session is None:
            return
        gone = [f for f in old_filters if f not in self._filters]
        new = [(f, q) for f, q in self._filters.items() if old_filters.get(f) != q]
        if gone:
            await session.unsubscribe(gone)
        if new:
            await session.subscribe(new)
        if session.connected:
            for node in self._nodes:
                if node not in old_nodes:
                    self._spawn(self._rebirth(node, "new points"))

    # -- running --------------------------------------------------------------------------------

    async def run(self, points: Sequence[Point]) -> None:
        """Connect, subscribe, push one batch per message, reconnect after loss; until cancelled."""
        self._apply_points(points)
        will = None
        host_id = self._opts["sparkplug_host_id"]
        if host_id:
            state = json.dumps({"online": False, "timestamp": self._born_at}).encode()
            will = (spb.state_topic(host_id), state, 1, True)
        client_id = f"conduit-{self._device.name}-{secrets.token_hex(4)}"
        session = MqttSession(
            self._device,
            client_id=client_id,
            on_message=self._on_message,
            on_state=self._on_state,
            will=will,
        )
        self._session = session
        try:
            await session.start()
            await session.subscribe(list(self._filters.items()))
            await asyncio.Event().wait()  # everything else happens in the session's callbacks
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if host_id and session.connected:  # Sparkplug 3.0: say offline before leaving
                state = json.dumps({"online": False, "timestamp": self._born_at}).encode()
                with contextlib.suppress(DriverError, TimeoutError):
                    async with asyncio.timeout(self._device.timeout):
                        await session.publish(spb.state_topic(host_id), state, 1, True)
            await session.stop()
            self._session = None

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_state(self, connected: bool, reason: str) -> None:
        if connected:
            self._connections += 1
            if self._connections > 1:
                self._monitor.reconnected()
            self._monitor.set_online(f"{self._device.host}")
            self._marked_offline = False
            host_id = self._opts["sparkplug_host_id"]
            if host_id:
                state = json.dumps({"online": True, "timestamp": self._born_at}).encode()
                self._spawn(self._send(spb.state_topic(host_id), state, 1, retain=True))
            for node in self._tracker.forget_all():
                self._spawn(self._rebirth(node, "connected"))
            return
        self._monitor.failure(reason)
        self._monitor.set_offline(reason)
        if not self._marked_offline and self._keys:
            self._sink([Sample(k, None, Quality.BAD, Reason.COMM_FAILURE) for k in self._keys])
        self._marked_offline = True

    async def _send(self, topic: str, payload: bytes, qos: int, retain: bool = False) -> None:
        session = self._session
        if session is None:
            return
        start = time.monotonic()
        try:
            await session.publish(topic, payload, qos, retain)
        except MqttNotConnected:
            return
        except DriverError as exc:
            self._monitor.error(str(exc))
            log.warning("%s", exc)
            return
        self._monitor.ok(time.monotonic() - start)

    async def _rebirth(self, node: NodeId, why: str) -> None:
        group, edge = node
        log.info("%s: asking %s/%s for a rebirth (%s)", self._device.name, group, edge, why)
        await self._send(spb.topic(group, "NCMD", edge), rebirth_request(_now_ms()), 0)

    # -- messages -------------------------------------------------------------------------------

    def _on_message(self, topic: str, payload: bytes) -> None:
        self._monitor.received()
        if topic.startswith(spb.NAMESPACE + "/"):
            self._on_sparkplug(topic, payload)
        readers = self._topics.get(topic)
        if not readers:
            return
        batch: list[Sample] = []
        failed: dict[str, list[str]] = {}
        recovered: list[str] = []
        document: Any = None
        problem: str | None = None  # the whole payload failed: invalid JSON
        parsed = False
        for key, where in readers:
            error = ""
            if where.payload == "json":
                if not parsed:
                    parsed = True
                    try:
                        document = parse_json(payload)
                    except DecodeFailure as exc:
                        problem = str(exc)
                if problem is not None:
                    error = problem
                    batch.append(Sample(key, None, Quality.BAD, Reason.DECODE_ERROR))
                else:
                    d = decode_json_point(document, where)
                    error = d.error
                    batch.append(Sample(key, d.value, d.quality, d.reason, d.source_ts))
            else:
                try:
                    batch.append(Sample(key, plain_value(payload, where.payload)))
                except DecodeFailure as exc:
                    error = str(exc)
                    batch.append(Sample(key, None, Quality.BAD, Reason.DECODE_ERROR))
            previous = self._decode_errors.get(key, "")
            if error != previous:
                if error:
                    self._decode_errors[key] = error
                    failed.setdefault(error, []).append(key)
                else:
                    del self._decode_errors[key]
                    recovered.append(key)
        if problem is not None or any(s.reason is Reason.DECODE_ERROR for s in batch):
            self._monitor.error(f"{topic}: {problem or 'a point did not decode'}")
        self._log_changes(topic, failed, recovered)
        self._sink(batch)

    def _log_changes(self, topic: str, failed: dict[str, list[str]], recovered: list[str]) -> None:
        """One line per new decode problem and one for recoveries (not one per message)."""
        for error, keys in failed.items():
            shown = ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
            log.warning("%s: %s: %s (%s)", self._device.name, topic, error, shown)
        if recovered:
            log.info("%s: %s decodes again (%d point(s))", self._device.name, topic, len(recovered))

    def _on_sparkplug(self, topic: str, payload: bytes) -> None:
        out = self._tracker.handle(topic, payload)
        if out.error:
            self._monitor.error(out.error)
        for node in out.rebirth:
            self._spawn(self._rebirth(node, out.error or "data before birth"))
        if out.samples:
            self._sink(out.samples)

    # -- writes ---------------------------------------------------------------------------------

    async def write(self, address: Address, value: Any) -> WriteResult:
        """Publish a value (set= topic, or Sparkplug NCMD/DCMD); ok once the broker has it."""
        name = f"{self._device.name}: {address}"
        try:
            if address.scheme == "spb":
                where = spb_address(address)
                datatype = self._tracker.datatype(where)
                if datatype is None:
                    return WriteResult(False, f"{name}: no birth seen for this metric yet")
                kind = "DCMD" if where.device else "NCMD"
                topic = spb.topic(where.group, kind, where.edge_node, where.device)
                payload = command(where, datatype, value, _now_ms())
                qos = 0  # Sparkplug: commands are published with QoS 0
            else:
                target = mqtt_address(address)
                if target.set is None:
                    return WriteResult(False, f"{name}: read-only (no set= topic to publish to)")
                topic, payload = target.set, encode_write(value)
                qos = target.qos if target.qos is not None else self._opts["qos"]
        except AddressError as exc:
            return WriteResult(False, str(exc))
        except (ValueError, TypeError, OverflowError) as exc:  # SparkplugError is a ValueError
            return WriteResult(False, f"{name}: cannot write {value!r}: {exc}")
        session = self._session
        if session is None or not session.connected:
            return WriteResult(False, f"{name}: not connected to the broker")
        start = time.monotonic()
        try:
            async with asyncio.timeout(self._device.timeout):
                await session.publish(topic, payload, qos)
        except TimeoutError:
            self._monitor.timeout()
            return WriteResult(False, f"{name}: no acknowledgement within {self._device.timeout}s")
        except DriverError as exc:  # MqttNotConnected, or the broker refused it (MQTT 5)
            self._monitor.error(str(exc))
            return WriteResult(False, f"{name}: {exc}")
        self._monitor.ok(time.monotonic() - start)
        return WriteResult(True)

    def stats(self) -> LinkStats:
        """Current link statistics: messages and publishes, malformed payloads, link losses."""
        stats = self._monitor.stats()
        session = self._session
        if session is not None and session.last_error and not session.connected:
            return replace(stats, last_error=session.last_error)
        return stats

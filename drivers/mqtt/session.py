"""One MQTT broker connection on the asyncio loop: (re)connect, subscribe, acknowledged publish.

Owns the paho-mqtt 2.x `Client` of a device and its socket. Threading model: paho's socket
callbacks are wired into the asyncio loop (the aiomqtt approach, see ANCHORS-STYLE 1.7): the
socket is registered with `loop.add_reader`/`add_writer`, `loop_read`/`loop_write` run in those
callbacks and `loop_misc` (keep-alive) on a one-second tick, so every paho callback, and with it
`on_message`, `on_state` and publish acknowledgements, runs on the loop that called `start` with
no per-message hand-over between threads. Only the blocking part of a connection attempt (name
lookup, TCP connect, TLS handshake, sending CONNECT) runs in a worker thread, bounded by
`connect_timeout`; paho's socket callbacks are attached only after it returns, so nothing touches
the client from two threads. Each attempt uses a fresh paho client (no stale packet state), and the
session owns reconnecting: `drivers.link.Backoff` with full jitter, forever, until `stop`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from drivers.base import DeviceConfig, DriverError
from drivers.link import Backoff
from drivers.mqtt.options import (
    SESSION_OPTIONS,
    TlsContext,
    describe,
    is_transport,
    read_options,
    refusal,
    tls_context,
)

log = logging.getLogger("drivers.mqtt")

_MISC_TICK = 1.0  # seconds between paho keep-alive checks
_READS_PER_WAKE = 64  # packets read per readable event before yielding to the loop


class MqttNotConnected(DriverError):
    """The broker link is down (or went down before the broker acknowledged a publish)."""


class MqttSession:
    """An asyncio MQTT 5 (or 3.1.1) client for one device; callbacks run on the calling loop."""

    def __init__(
        self,
        device: DeviceConfig,
        *,
        client_id: str,
        on_message: Callable[[str, bytes], None] | None = None,
        on_state: Callable[[bool, str], None] | None = None,
        will: tuple[str, bytes, int, bool] | None = None,
    ) -> None:
        self.device = device
        self.opts = read_options(device, SESSION_OPTIONS)
        self.client_id = self.opts["client_id"] or client_id
        self.port = device.port or (8883 if self.opts["tls"] else 1883)
        self.connected = False
        self.last_error = ""
        self._on_message = on_message
        self._on_state = on_state
        self._will = will
        self._backoff = Backoff(self.opts["reconnect_min"], self.opts["reconnect_max"])
        self._filters: dict[str, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._client: paho.Client | None = None
        self._fd = -1
        self._writing = False
        self._tls: TlsContext | None = None  # of the current attempt
        self._lost: asyncio.Event | None = None
        self._lost_reason = ""
        self._connack: asyncio.Future[ReasonCode | str] | None = None
        self._publishes: dict[int, asyncio.Future[None]] = {}
        self._acks: dict[int, tuple[asyncio.Future[None], list[str]]] = {}
        self._up = asyncio.Event()
        self._logged = ""
        self._received = 0

    @property
    def name(self) -> str:
        """The device name, for messages."""
        return self.device.name

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect in the background and keep reconnecting; never raises for a down broker."""
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._supervise(), name=f"conduit-mqtt-{self.name}")

    async def stop(self) -> None:
        """Disconnect cleanly (no will is published) and stop reconnecting."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def wait_connected(self, within: float | None = None) -> bool:
        """Wait until the broker accepted the connection; False after `within` seconds."""
        try:
            async with asyncio.timeout(within):
                await self._up.wait()
        except TimeoutError:
            return False
        return True

    # -- operations -----------------------------------------------------------------------------

    async def subscribe(self, filters: list[tuple[str, int]]) -> None:
        """Subscribe now if connected (waits for SUBACK) and again after every reconnect."""
        for topic, qos in filters:
            self._filters[topic] = qos
        if filters and self.connected:
            await self._await_ack(self._send_subscribe(filters))

    async def unsubscribe(self, topics: list[str]) -> None:
        """Forget topic filters and unsubscribe from them if connected."""
        topics = [t for t in topics if self._filters.pop(t, None) is not None]
        client = self._client
        if topics and self.connected and client is not None:
            rc, mid = client.unsubscribe(topics)
            if rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                await self._await_ack(self._track_ack(mid, []))

    async def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        """Publish; return once the broker acknowledged it (QoS 0: once written).

        Raises MqttNotConnected when not connected or when the link drops before the ack,
        DriverError when the broker refuses it (MQTT 5 reason code, e.g. an ACL), ValueError for
        a topic with wildcards. The caller bounds the wait (a frozen broker never acks).
        """
        client = self._client
        if not self.connected or client is None:
            raise MqttNotConnected(f"{self.name}: not connected to the broker")
        info = client.publish(topic, payload, qos, retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            if info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN:
                raise MqttNotConnected(f"{self.name}: not connected to the broker")
            raise DriverError(
                f"{self.name}: publish to {topic!r} failed ({paho.error_string(info.rc)})"
            )
        if info.is_published():
            return
        assert self._loop is not None
        future: asyncio.Future[None] = self._loop.create_future()
        self._publishes[info.mid] = future
        try:
            await future
        finally:
            self._publishes.pop(info.mid, None)

    # -- connection -----------------------------------------------------------------------------

    async def _supervise(self) -> None:
        first = True
        try:
            while True:
                if not first:
                    await asyncio.sleep(self._backoff.next())
                first = False
                try:
                    reason = await self._connect_once()
                except Exception as exc:  # a bug must not end reconnecting for good
                    log.exception("%s: connection attempt failed", self.name)
                    reason = f"internal error ({exc!r})"
                self._down(reason)
        finally:
            self.connected = False
            self._up.clear()

    def _new_client(self) -> paho.Client:
        if self.opts["mqtt_version"] == "3.1.1":
            client = paho.Client(
                CallbackAPIVersion.VERSION2,
                client_id=self.client_id,
                protocol=paho.MQTTv311,
                clean_session=True,
            )
        else:  # a fresh client per attempt: MQTT 5 clean start every time
            client = paho.Client(
                CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=paho.MQTTv5
            )
        client.connect_timeout = self.opts["connect_timeout"]
        if self.opts["username"]:
            client.username_pw_set(self.opts["username"], self.device.password)
        if self._will is not None:
            topic, payload, qos, retain = self._will
            client.will_set(topic, payload, qos, retain)
        if self.opts["tls"]:
            self._tls = tls_context(self.opts)
            client.tls_set_context(self._tls)
            client.tls_insecure_set(self.opts["tls_insecure"])
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_message = self._handle_message
        client.on_publish = self._handle_publish
        client.on_subscribe = self._handle_suback
        client.on_unsubscribe = self._handle_suback
        return client

    async def _connect_once(self) -> str:
        """One connection: connect, serve until lost; returns why it ended."""
        loop = asyncio.get_running_loop()
        try:
            client = self._new_client()
        except DriverError as exc:
            return str(exc)
        keepalive = max(1, round(self.opts["keepalive"]))
        job = loop.run_in_executor(None, client.connect, self.device.host, self.port, keepalive)
        try:
            await asyncio.shield(job)
        except asyncio.CancelledError:
            # let the worker finish (bounded by connect_timeout) so its socket can be closed
            with contextlib.suppress(Exception):
                await job
            self._drop_socket(client)
            raise
        except Exception as exc:
            self._drop_socket(client)
            return describe(exc, f"{self.device.host}:{self.port}", self.opts)
        self._client = client
        self._lost = asyncio.Event()
        self._lost_reason = ""
        self._connack = loop.create_future()
        try:
            try:
                self._attach(client)
            except DriverError as exc:
                return str(exc)
            try:
                async with asyncio.timeout(self.opts["connect_timeout"]):
                    answer = await self._connack
            except TimeoutError:
                where = f"{self.device.host}:{self.port}"
                return f"no CONNACK from {where} within {self.opts['connect_timeout']:g}s"
            if isinstance(answer, str):
                return answer
            if answer.is_failure:
                return refusal(answer)
            self._up_now()
            while not self._lost.is_set():
                try:
                    async with asyncio.timeout(_MISC_TICK):
                        await self._lost.wait()
                except TimeoutError:
                    client.loop_misc()
            return self._lost_reason or "connection lost"
        finally:
            self._close(client)

    def _attach(self, client: paho.Client) -> None:
        """Hand the connected socket to the loop and let paho ask for write interest."""
        assert self._loop is not None
        sock = client.socket()
        if sock is None:
            raise DriverError("paho returned no socket after connect")
        self._fd = sock.fileno()
        # Small packets (PUBACKs, single values) must not wait for Nagle: measured +25 % replay.
        if isinstance(sock, socket.socket):  # also ssl.SSLSocket
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._writing = False
        client.on_socket_close = self._socket_closed
        client.on_socket_register_write = self._want_write
        client.on_socket_unregister_write = self._no_write
        self._loop.add_reader(self._fd, self._readable, client)
        if client.want_write():
            self._want_write(client, None, sock)

    def _up_now(self) -> None:
        self.connected = True
        self._backoff.reset()
        self._logged = ""
        self.last_error = ""
        self._up.set()
        log.info("%s: connected to %s:%d", self.name, self.device.host, self.port)
        if self._filters:
            self._send_subscribe(list(self._filters.items()))
        self._notify_state(True, "")

    def _down(self, reason: str) -> None:
        """After a connection ended or an attempt failed: record, log once, tell the owner."""
        was = self.connected
        self.connected = False
        self._up.clear()
        self.last_error = f"{self.name}: {reason}"
        if was:
            log.warning("%s: connection lost: %s", self.name, reason)
        elif reason == self._logged:
            return
        elif not (self._logged and is_transport(reason)):  # "still unreachable" is no news
            log.warning("%s: %s", self.name, reason)
        self._logged = reason
        self._notify_state(False, reason)

    def _close(self, client: paho.Client) -> None:
        """End a connection: DISCONNECT if still up, close the socket, fail pending operations."""
        if self.connected and client.socket() is not None:
            with contextlib.suppress(Exception):
                client.disconnect()
                client.loop_write()  # writes DISCONNECT; paho then closes the socket
        self._drop_socket(client)
        self._client = None
        self._lost = None
        error = MqttNotConnected(f"{self.name}: the connection to the broker was lost")
        for future in self._publishes.values():
            if not future.done():
                future.set_exception(error)
        for future, _ in self._acks.values():
            if not future.done():
                future.set_result(None)
        self._publishes.clear()
        self._acks.clear()
        client.drop_out_messages()  # unacknowledged publishes were failed above, never resent

    def _drop_socket(self, client: paho.Client) -> None:
        if self._fd >= 0 and self._client is client:
            self._unregister()
        if self._tls is not None:
            self._tls.close_wrapped()
            self._tls = None
        sock = client.socket()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    def _unregister(self) -> None:
        if self._fd >= 0 and self._loop is not None:
            self._loop.remove_reader(self._fd)
            self._loop.remove_writer(self._fd)
        self._fd = -1
        self._writing = False

    def _lose(self, reason: str) -> None:
        if self._lost is not None and not self._lost.is_set():
            self._lost_reason = reason
            self._lost.set()
        if self._connack is not None and not self._connack.done():
            self._connack.set_result(reason)

    # -- paho callbacks (all on the loop) -------------------------------------------------------

    def _readable(self, client: paho.Client) -> None:
        if client is not self._client:
            return
        for _ in range(_READS_PER_WAKE):
            before = self._received
            rc = client.loop_read()
            sock = client.socket()
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or sock is None or client is not self._client:
                return
            pending = getattr(sock, "pending", None)  # TLS records already decrypted
            if self._received == before and not (pending is not None and pending() > 0):
                return

    def _writable(self, client: paho.Client) -> None:
        if client is self._client:
            client.loop_write()

    def _want_write(self, client: paho.Client, _userdata: Any, _sock: Any) -> None:
        if client is self._client and self._fd >= 0 and not self._writing and self._loop:
            self._writing = True
            self._loop.add_writer(self._fd, self._writable, client)

    def _no_write(self, client: paho.Client, _userdata: Any, _sock: Any) -> None:
        if client is self._client and self._writing and self._loop:
            self._writing = False
            self._loop.remove_writer(self._fd)

    def _socket_closed(self, client: paho.Client, _userdata: Any, _sock: Any) -> None:
        if client is self._client:
            self._unregister()  # paho calls on_disconnect next, with the reason

    def _handle_connect(
        self, client: paho.Client, _u: Any, _flags: Any, code: ReasonCode, _props: Any
    ) -> None:
        if client is self._client and self._connack is not None and not self._connack.done():
            self._connack.set_result(code)

    def _handle_disconnect(
        self, client: paho.Client, _u: Any, flags: Any, code: ReasonCode, _props: Any
    ) -> None:
        if client is not self._client:
            return
        if code.getName() == "Keep alive timeout":
            reason = (
                f"no answer from the broker within the keep-alive ({self.opts['keepalive']:g}s)"
            )
        elif getattr(flags, "is_disconnect_packet_from_server", False):
            reason = f"the broker disconnected ({code.getName()})"
        else:
            reason = "the broker closed the connection"
        self._unregister()
        self._lose(reason)

    def _handle_message(self, client: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        if client is not self._client:
            return
        self._received += 1
        if self._on_message is not None:
            payload = message.payload
            try:
                self._on_message(
                    message.topic, payload if isinstance(payload, bytes) else bytes(payload)
                )
            except Exception:
                log.exception("%s: message handler failed on %r", self.name, message._topic)

    def _handle_publish(
        self, client: paho.Client, _u: Any, mid: int, code: ReasonCode, _props: Any
    ) -> None:
        future = self._publishes.get(mid)
        if future is None or future.done():
            return
        if code.is_failure:
            future.set_exception(
                DriverError(f"{self.name}: the broker refused the publish ({code})")
            )
        else:
            future.set_result(None)

    def _handle_suback(
        self, client: paho.Client, _u: Any, mid: int, codes: list[ReasonCode], _props: Any
    ) -> None:
        entry = self._acks.pop(mid, None)
        if entry is None:
            return
        future, topics = entry
        for topic, code in zip(topics, codes, strict=False):
            if code.is_failure:
                self.last_error = f"{self.name}: the broker refused the subscription to {topic!r}"
                log.warning("%s (%s)", self.last_error, code.getName())
        if not future.done():
            future.set_result(None)

    # -- helpers --------------------------------------------------------------------------------

    def _send_subscribe(self, filters: list[tuple[str, int]]) -> asyncio.Future[None] | None:
        client = self._client
        if client is None:
            return None
        rc, mid = client.subscribe(filters)
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return None
        return self._track_ack(mid, [t for t, _ in filters])

    def _track_ack(self, mid: int | None, topics: list[str]) -> asyncio.Future[None] | None:
        if mid is None or self._loop is None:
            return None
        future: asyncio.Future[None] = self._loop.create_future()
        self._acks[mid] = (future, topics)
        return future

    async def _await_ack(self, future: asyncio.Future[None] | None) -> None:
        if future is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.opts["connect_timeout"]):
                await future

    def _notify_state(self, connected: bool, reason: str) -> None:
        if self._on_state is not None:
            try:
                self._on_state(connected, reason)
            except Exception:
                log.exception("%s: state handler failed", self.name)

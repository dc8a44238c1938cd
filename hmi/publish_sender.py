"""The publisher's sender: broker sessions, Sparkplug births, and the window that drains the spool.

Runs on the publisher's own asyncio loop (`hmi.publish` owns that thread). Owns when a message
leaves the spool: messages are published oldest first with up to `window` in flight (a sliding
window: each acknowledgement lets the next one go, which also keeps a broker's Nagle-delayed
PUBACKs flowing), and deleted up to the newest one acknowledged in order. A message whose
publish failed because the link dropped stays in the spool and is sent again on the next
connection. Each connection is a new session, so each gets its own Sparkplug bdSeq (in its will).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from drivers.base import DeviceConfig, DriverError
from drivers.mqtt import sparkplug as spb
from drivers.mqtt.session import MqttNotConnected, MqttSession
from hmi.publish_formats import Format, SparkplugFormat
from hmi.spool import Message, Spool
from hmi.tags import Value

log = logging.getLogger("hmi.publish")

WINDOW = 16  # messages in flight (published, PUBACK not yet received)


@dataclass
class _InFlight:
    message: Message
    task: asyncio.Task[bool]


class Sender:
    """Sends a spool's messages to one broker, reconnecting forever; lives on one loop."""

    def __init__(
        self,
        spool: Spool,
        fmt: Format,
        device: DeviceConfig,
        *,
        client_id: str,
        current: Callable[[str], Value],
        window: int = WINDOW,
    ) -> None:
        self.spool = spool
        self.format = fmt
        self.device = device
        self.client_id = client_id
        self.current = current  # a tag's current value, for NBIRTH
        self.window = window
        self.sent = 0  # messages acknowledged by the broker
        self.rejected = 0  # messages the session refused for good (discarded, logged)
        self.connected = False
        self.last_error = ""
        self.stopping = False
        self._kick = asyncio.Event()
        self._bd_seq = 0  # Sparkplug bdSeq of the current session (its NBIRTHs and its will)
        self._rebirth = False  # Sparkplug: publish an NBIRTH before any more data

    def wake(self) -> None:
        """New messages are on disk, or something changed (call on the loop)."""
        self._kick.set()

    def stop(self) -> None:
        """Finish the messages in flight, then end the session (call on the loop)."""
        self.stopping = True
        self._kick.set()

    async def run(self) -> None:
        """Connect, send, reconnect, until `stop`."""
        while not self.stopping:
            try:
                await self._connection()
            except (DriverError, spb.SparkplugError) as exc:  # e.g. an NBIRTH the broker refuses
                self.last_error = str(exc)
                log.error("publisher: %s; reconnecting", exc)
                await asyncio.sleep(1.0)
            except Exception:
                log.exception("publisher: the sender failed; reconnecting")
                await asyncio.sleep(1.0)

    async def _connection(self) -> None:
        """One session: connect, NBIRTH (Sparkplug), send until the link drops or stop."""
        fmt, spool = self.format, self.spool
        sparkplug = isinstance(fmt, SparkplugFormat)
        will = None
        if isinstance(fmt, SparkplugFormat):
            self._bd_seq = (spool.meta("bd_seq", -1) + 1) % 256
            spool.set_meta("bd_seq", self._bd_seq)
            will = (fmt.death_topic, fmt.death(self._bd_seq), 1, False)
        session = MqttSession(
            self.device,
            client_id=self.client_id,
            on_state=self._on_state,
            on_message=self._on_command,
            will=will,
        )
        await session.start()
        try:
            if isinstance(fmt, SparkplugFormat):  # subscribed on connect, before the NBIRTH
                await session.subscribe([(fmt.command_topic, 0)])
            while not session.connected:
                if self.stopping:
                    return
                self._kick.clear()
                await self._kick.wait()
            self.connected = True
            self._rebirth = sparkplug
            await self._pump(session, live_from=spool.last_seq)
        except MqttNotConnected:
            pass
        finally:
            self.connected = False
            if self.stopping and isinstance(fmt, SparkplugFormat) and session.connected:
                with contextlib.suppress(DriverError, TimeoutError):
                    async with asyncio.timeout(1.0):
                        await session.publish(fmt.death_topic, fmt.death(self._bd_seq), qos=0)
            await session.stop()

    def _on_state(self, connected: bool, reason: str) -> None:
        if not connected:
            self.last_error = reason
        self._kick.set()

    def _on_command(self, topic: str, payload: bytes) -> None:
        """NCMD: a host application asks for a rebirth (Node Control/Rebirth = true)."""
        try:
            metrics = spb.decode(payload).metrics
        except spb.SparkplugError as exc:
            log.warning("publisher: ignoring an undecodable command on %s: %s", topic, exc)
            return
        if any(m.name == spb.REBIRTH and m.value is True for m in metrics):
            log.info("publisher: rebirth requested on %s", topic)
            self._rebirth = True
            self._kick.set()

    async def _pump(self, session: MqttSession, live_from: int) -> None:
        """Keep up to `window` messages in flight until the link drops or the sender stops."""
        inflight: deque[_InFlight] = deque()
        cursor = 0  # the newest seq handed to the session
        unacked = 0  # the newest seq acknowledged in order but not yet deleted
        settled = 0  # messages settled since the last delete
        try:
            while session.connected and not (self.stopping and not inflight):
                if self._rebirth and not inflight and isinstance(self.format, SparkplugFormat):
                    self._rebirth = False
                    birth = self.format.birth(self.current, self._bd_seq)
                    await session.publish(self.format.birth_topic, birth, qos=0)
                room = self.window - len(inflight)
                if room > 0 and not self.stopping and not self._rebirth:
                    for message in self.spool.peek(room, after=cursor):
                        payload = self._prepare(message, message.seq <= live_from)
                        task = asyncio.ensure_future(_publish(session, message, payload))
                        inflight.append(_InFlight(message, task))
                        cursor = message.seq
                if not inflight:
                    if unacked:
                        self.spool.ack_through(unacked)
                        unacked = settled = 0
                    self._kick.clear()
                    if self.spool.depth() == 0 or self.stopping:  # no wake-up is lost
                        await self._kick.wait()
                    continue
                if len(inflight) < self.window and not self.stopping:
                    kick = asyncio.ensure_future(self._kick.wait())
                    self._kick.clear()
                    await asyncio.wait({inflight[0].task, kick}, return_when="FIRST_COMPLETED")
                    kick.cancel()
                else:
                    await asyncio.wait({inflight[0].task})
                while inflight and inflight[0].task.done():
                    done = inflight.popleft()
                    if not self._settle(done):
                        return
                    unacked = done.message.seq
                    settled += 1
                if unacked and (not inflight or settled >= max(1, self.window // 2)):
                    self.spool.ack_through(unacked)  # one transaction per half window
                    unacked = settled = 0
        finally:
            if unacked:
                self.spool.ack_through(unacked)
            for left in inflight:
                left.task.cancel()
            if inflight:
                await asyncio.gather(*(left.task for left in inflight), return_exceptions=True)

    def _prepare(self, message: Message, historical: bool) -> bytes | None:
        try:
            return self.format.prepare(message, historical)
        except spb.SparkplugError as exc:
            log.error("publisher: discarding message %d: %s", message.seq, exc)
            return None

    def _settle(self, done: _InFlight) -> bool:
        """Account for one finished publish; False when the link was lost (keep it for later)."""
        exc = done.task.exception()
        if isinstance(exc, MqttNotConnected):
            return False
        if exc is not None:  # can never be sent (e.g. too large for the broker session)
            self.rejected += 1
            log.error("publisher: message %d refused, discarded: %s", done.message.seq, exc)
        elif done.task.result():
            self.sent += 1
        return True


async def _publish(session: MqttSession, message: Message, payload: bytes | None) -> bool:
    """Publish one prepared message; False when there was nothing to send."""
    if payload is None:
        return False
    await session.publish(message.topic, payload, message.qos, message.retain)
    return True

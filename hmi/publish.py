"""Publisher: re-publishes tag changes (and alarm events) to an MQTT broker, store and forward.

Owns the path runtime change batch -> tag filter -> spool (disk) -> broker, and the
`_diag.publisher.*` tags. Every message is written to the spool first and leaves it only after
the broker acknowledged it (PUBACK, QoS 1), so an outage or a restart of the application loses
nothing the spool could hold.

Threads: the runtime callback only filters and hands the batch to the spool's writer thread
(which encodes it and commits it to disk), so the runtime thread never waits for the disk or the
network. The sender (`hmi.publish_sender`: sessions, births, the sliding window) runs on the
publisher's own thread and asyncio loop. It does not share the runtime loop because its SQLite
reads, a slow TLS handshake or a stalled broker must never delay device polling, and a busy
runtime must not slow the replay after an outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from drivers.base import DeviceConfig, DriverError
from drivers.mqtt.session import MqttSession
from hmi.publish_config import PUBLISHER_DEVICE, PublishConfig, publisher_tag_defs, slug, spool_path
from hmi.publish_formats import Changes, Format, JsonFormat, SparkplugFormat
from hmi.publish_sender import WINDOW, Sender
from hmi.runtime import ChangeBatch, Runtime
from hmi.spool import Spool, SpoolError
from hmi.tags import Reason, Value

__all__ = ["PublishError", "Publisher", "default_client_id"]

log = logging.getLogger("hmi.publish")

STOP_GRACE = 2.0  # seconds a stopping sender may wait for the acks of its window
_DIAG = f"_diag.{PUBLISHER_DEVICE}."


class PublishError(Exception):
    """The publisher cannot start or accept data; the message says why."""


def default_client_id(project_name: str) -> str:
    """The MQTT client id of a project's publisher on this computer."""
    return f"conduit-pub-{slug(project_name)}-{slug(socket.gethostname())}"[:64]


class Publisher:
    """Publishes a runtime's tag changes to one broker, through an on-disk spool."""

    def __init__(
        self,
        runtime: Runtime,
        config: PublishConfig,
        device: DeviceConfig,
        *,
        data_dir: Path,
        client_id: str | None = None,
        window: int = WINDOW,
    ) -> None:
        self.runtime = runtime
        self.config = config
        own = device.options.get("client_id")  # the device's driver uses that one
        self.device = (
            replace(device, options={**device.options, "client_id": f"{own}-pub"})
            if own
            else device
        )
        self.client_id = client_id or default_client_id(runtime.project.name)
        self.path = spool_path(data_dir, runtime.project.name, config.device)
        self.window = window
        try:
            MqttSession(self.device, client_id=self.client_id)  # checks the device options now
        except DriverError as exc:
            raise PublishError(f"[publish] device {config.device}: {exc}") from None
        runtime.add_system_tags(publisher_tag_defs(), self.diagnostics)
        self.tags = {name: tag for name, tag in runtime.tags.items() if config.matches(name)}
        self.format: Format = (
            SparkplugFormat(config, self.tags)
            if config.format == "sparkplug"
            else JsonFormat(config)
        )
        self.spool: Spool | None = None
        self.sender: Sender | None = None  # made on the publisher's loop at start
        self._accepting = False
        self._pending: dict[str, Value] = {}  # interval mode: latest value per tag
        self._pending_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._main_task: asyncio.Task[None] | None = None
        self._ready = threading.Event()
        self._rate = (time.monotonic(), 0)

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Open the spool, start the sender thread and subscribe to the runtime's changes."""
        if self._thread is not None:
            raise PublishError("publisher already started")
        try:
            self.spool = Spool(
                self.path, self.config.buffer, label=f"publisher {self.config.device}"
            )
        except SpoolError as exc:
            raise PublishError(str(exc)) from None
        self.spool.on_append = self._on_append
        self.spool.start()
        self._ready.clear()
        self._thread = threading.Thread(target=self._main, name="conduit-publisher", daemon=True)
        self._thread.start()
        self._ready.wait(5)
        self._accepting = True
        if self.runtime.running:  # subscribe and take the first snapshot between two batches
            self.runtime.call(self._attach_async()).result(10)
        else:
            self._attach()
        log.info(
            "publishing %d tags to %s as %s (buffer %s, %d messages waiting)",
            len(self.tags),
            self.config.device,
            self.format.name,
            self.path,
            self.spool.depth(),
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking changes, write what is queued to disk, stop the sender, close the spool."""
        self._accepting = False
        self.runtime.unsubscribe(self._on_changes)
        spool, thread, loop = self.spool, self._thread, self._loop
        if spool is None or thread is None:
            return
        self._flush_pending()
        if not spool.flush(timeout):
            log.error("publisher: the buffer writer did not catch up within %.0f s", timeout)
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(self._request_stop)
        thread.join(timeout)
        if thread.is_alive():
            log.error("publisher: the sender did not stop within %.0f s", timeout)
        self._thread = None
        spool.close(timeout)

    def publish_event(self, kind: str, body: dict[str, Any]) -> None:
        """Queue an event (e.g. an alarm) for `<topic>/events`, through the same spool; any thread.

        Raises TypeError/ValueError for a body that is not JSON, PublishError when not running.
        """
        data = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
        spool = self.spool
        if spool is None or not self._accepting:
            raise PublishError("the publisher is not running")
        try:
            spool.submit(lambda seqs: self.format.event(kind, data, seqs))
        except SpoolError as exc:
            raise PublishError(str(exc)) from None

    @property
    def connected(self) -> bool:
        """True while the sender is connected to the broker."""
        return self.sender is not None and self.sender.connected

    def diagnostics(self) -> dict[str, Any]:
        """Values of the `_diag.publisher.*` tags (called on the runtime thread; never blocks)."""
        sender = self.sender
        now, sent = time.monotonic(), sender.sent if sender is not None else 0
        then, before = self._rate
        self._rate = (now, sent)
        rate = (sent - before) / (now - then) if now > then else 0.0
        spool = self.spool
        values: dict[str, Any] = {
            "connected": self.connected,
            "sent_per_s": round(max(rate, 0.0), 1),
        }
        if spool is not None:
            values |= {
                "queued": spool.depth() + spool.pending(),
                "dropped": spool.dropped,
                "overflow": spool.overflow,
            }
        return {_DIAG + name: value for name, value in values.items()}

    # ---- the runtime side (runtime thread) ---------------------------------------------------

    async def _attach_async(self) -> None:
        self._attach()

    def _attach(self) -> None:
        """Subscribe; in JSON, also queue the current value of every published tag."""
        self.runtime.subscribe(self._on_changes)
        if isinstance(self.format, JsonFormat):
            store = self.runtime.store
            current = [
                (n, v) for n in self.tags if (v := store.get(n)).reason is not Reason.INITIAL
            ]
            if current:
                self._submit(current)

    def _on_changes(self, changes: ChangeBatch) -> None:
        """Runtime callback: keep the published tags and hand them over; never blocks."""
        if not self._accepting:
            return
        tags = self.tags
        selected = [(name, value) for name, value in changes if name in tags]
        if not selected:
            return
        if self.config.interval:
            with self._pending_lock:
                self._pending.update(selected)
        else:
            self._submit(selected)

    def _submit(self, changes: Changes) -> None:
        spool = self.spool
        if spool is None:
            return
        fmt = self.format
        with contextlib.suppress(SpoolError):  # closing: the publisher is stopping
            spool.submit(lambda seqs: fmt.values(changes, seqs), weight=len(changes))

    def _flush_pending(self) -> None:
        with self._pending_lock:
            pending, self._pending = self._pending, {}
        if pending:
            self._submit(list(pending.items()))

    def _on_append(self, _seq: int) -> None:
        """Spool writer thread: new messages are on disk; wake the sender."""
        loop, sender = self._loop, self.sender
        if loop is not None and sender is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(sender.wake)

    # ---- the sender's thread and loop --------------------------------------------------------

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._main_task = loop.create_task(self._run())
            with contextlib.suppress(asyncio.CancelledError):
                loop.run_until_complete(self._main_task)
        finally:
            self._loop = None
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    def _request_stop(self) -> None:
        if self.sender is not None:
            self.sender.stop()
        task, loop = self._main_task, self._loop
        if task is not None and loop is not None:
            loop.call_later(STOP_GRACE, task.cancel)  # acks that do not come in time: resent later

    async def _run(self) -> None:
        assert self.spool is not None
        self.sender = Sender(
            self.spool,
            self.format,
            self.device,
            client_id=self.client_id,
            current=self.runtime.store.get,
            window=self.window,
        )
        self._ready.set()
        coalescer = None
        if self.config.interval:
            coalescer = asyncio.create_task(self._coalesce(self.config.interval))
        try:
            await self.sender.run()
        finally:
            if coalescer is not None:
                coalescer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await coalescer

    async def _coalesce(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            self._flush_pending()

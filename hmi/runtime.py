"""Runtime: drives the drivers on its own thread and asyncio loop and keeps the TagStore current.

Owns the data path driver batch -> engineering value -> calc tags -> TagStore -> subscribers.
It imports no alarms, history or publisher: those subscribe to its change batches (wired by
`hmi.station`), so the runtime runs and is tested with nothing attached.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, TypeVar

from drivers import SCHEMES, SLOW_IMPORTS, driver_class
from drivers.base import (
    DeviceConfig,
    Driver,
    LinkStats,
    Point,
    Quality,
    Reason,
    Sample,
    WriteResult,
)
from hmi.project import Project
from hmi.tags import LINK_FIELDS, TagDef, Value, link_tag_defs, link_tag_name
from hmi.tagstore import TagStore

log = logging.getLogger("hmi.runtime")

T = TypeVar("T")
ChangeBatch = list[tuple[str, Value]]
Subscriber = Callable[[ChangeBatch], None]

DIAG_PERIOD = 1.0  # seconds between link-statistics refreshes
FIRST_VALUES_WAIT = 1.0  # seconds `values_first` work waits for the first values, at most


def _driver_loaded(scheme: str) -> bool:
    """True when the scheme's driver module is imported already (or the scheme is unknown,
    which `driver_class` reports at once)."""
    target = SCHEMES.get(scheme)
    return target is None or target.partition(":")[0] in sys.modules


class RequestError(Exception):
    """The runtime could not do what was asked (unknown tag, not writable, not running)."""


class Runtime:
    """Polls every device of a project on a private thread and loop; feeds the TagStore."""

    def __init__(self, project: Project, devices: Mapping[str, DeviceConfig] | None = None) -> None:
        self.project = project
        # the devices as the drivers get them: with credentials and data folder filled in
        self.devices: Mapping[str, DeviceConfig] = devices or project.devices
        self.tags: dict[str, TagDef] = dict(project.tags)
        for device in project.devices:
            for tag in link_tag_defs(device):
                self.tags[tag.name] = tag
        self.store = TagStore(self.tags)
        self._subscribers: tuple[Subscriber, ...] = ()
        self._system: list[tuple[tuple[TagDef, ...], Callable[[], Mapping[str, Any]]]] = []
        self._by_key: dict[str, list[TagDef]] = {}  # point key (full address) -> its tags
        points: dict[str, dict[str, Point]] = {}  # device name -> point key -> point
        for tag in project.tags.values():
            if tag.address is None:
                continue
            point = Point(tag.address, project.scan_classes.get(tag.scan, 1.0))
            known = points.setdefault(tag.address.authority, {}).get(point.key)
            if known is None or point.scan < known.scan:  # shared address: the fastest scan
                points[tag.address.authority][point.key] = point
            self._by_key.setdefault(point.key, []).append(tag)
        # device name -> its points (one driver per device)
        self._points: dict[str, list[Point]] = {d: list(p.values()) for d, p in points.items()}
        self._calc_rank = {name: i for i, name in enumerate(project.tag_order_for_calcs())}
        self._drivers: dict[str, Driver] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._tasks: list[asyncio.Task[None]] = []
        # driver modules not imported yet are imported on this thread, one at a time in device
        # order, so a heavy protocol library (asyncua: most of a second) never stalls the loop
        self._importer: concurrent.futures.ThreadPoolExecutor | None = None
        self._imports: dict[str, concurrent.futures.Future[type[Driver]]] = {}
        self._ready = threading.Event()
        self.first_values = threading.Event()  # set by the first batch any driver delivers
        self.samples_in = 0  # raw samples received, for benchmarks and diagnostics

    # ---- lifecycle -------------------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> None:
        """Call `callback(changes)` on the runtime thread after every applied batch."""
        self._subscribers = (*self._subscribers, callback)

    def unsubscribe(self, callback: Subscriber) -> None:
        """Stop calling `callback` (from any thread; a batch being delivered may still reach it)."""
        self._subscribers = tuple(s for s in self._subscribers if s is not callback)

    def add_system_tags(
        self, tags: Sequence[TagDef], read: Callable[[], Mapping[str, Any]]
    ) -> None:
        """Add system tags (before `start`); `read()` gives their values, name -> raw value.

        `read` runs on the runtime thread with the link diagnostics (every DIAG_PERIOD and on
        `refresh_link_stats`), so it must not block; a None value makes the tag bad(initial).
        """
        if self._thread is not None:
            raise RequestError("system tags must be added before the runtime starts")
        for tag in tags:
            self.tags[tag.name] = tag
        self.store.add(tag.name for tag in tags)
        self._system.append((tuple(tags), read))

    def start(self) -> None:
        """Start the runtime thread, its loop and one task per device link."""
        if self._thread is not None:
            raise RequestError("runtime already started")
        self._thread = threading.Thread(target=self._main, name="conduit-runtime", daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel every device task, close the links and end the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            if self._importer is not None:  # prepared, never started
                self._importer.shutdown(wait=False, cancel_futures=True)
                self._importer = None
            return
        if loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
            try:
                fut.result(timeout)
            except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
                log.warning("runtime did not stop within %.0f s", timeout)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._thread = None

    @property
    def running(self) -> bool:
        """True while the runtime thread runs its loop."""
        return self._loop is not None and self._loop.is_running()

    def call(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run a coroutine on the runtime loop from any thread; returns a future."""
        if self._loop is None or not self._loop.is_running():
            coro.close()
            raise RequestError("runtime is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        loop.call_soon(self._start_tasks)
        try:
            loop.run_forever()
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self._loop = None

    def prepare(self, *, values_first: bool = False) -> None:
        """Begin importing the devices' driver modules (`start` does it too, if not yet).

        With `values_first` the slow imports (SLOW_IMPORTS) wait until the first values are
        in (at most FIRST_VALUES_WAIT): they would hold the interpreter lock meanwhile.
        """
        for device_name in self._points:
            scheme = self.devices[device_name].scheme
            if scheme in self._imports or _driver_loaded(scheme):
                continue
            if self._importer is None:
                self._importer = concurrent.futures.ThreadPoolExecutor(
                    1, thread_name_prefix="conduit-import"
                )
            wait = values_first and scheme in SLOW_IMPORTS
            self._imports[scheme] = self._importer.submit(self._import_driver, scheme, wait)

    def _import_driver(self, scheme: str, after_first_values: bool) -> type[Driver]:
        if after_first_values:
            self.first_values.wait(FIRST_VALUES_WAIT)
        return driver_class(scheme)

    def _start_tasks(self) -> None:
        assert self._loop is not None
        self._evaluate_calcs(set(self._calc_rank), time.time())
        self.prepare()
        for device_name, points in self._points.items():
            pending = self._imports.get(self.devices[device_name].scheme)
            self._tasks.append(
                self._loop.create_task(self._run_device(device_name, points, pending))
            )
        self._tasks.append(self._loop.create_task(self._diagnostics_loop()))
        self._ready.set()

    async def _run_device(
        self,
        name: str,
        points: Sequence[Point],
        pending: concurrent.futures.Future[type[Driver]] | None,
    ) -> None:
        """Run the device's driver, once its module is imported (`pending`, when not yet)."""
        device = self.devices[name]
        try:
            cls = (
                driver_class(device.scheme)
                if pending is None
                else await asyncio.wrap_future(pending)
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("cannot load the driver of device %s", name)
            self._on_batch([Sample(p.key, None, Quality.BAD, Reason.COMM_FAILURE) for p in points])
            return
        driver = cls(device, self._on_batch)
        self._drivers[name] = driver
        await self._run_driver(name, driver, points)

    async def _run_driver(self, name: str, driver: Driver, points: Sequence[Point]) -> None:
        try:
            await driver.run(points)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A driver must never end on its own; if it does, its tags must not look alive.
            log.exception("driver for device %s stopped unexpectedly", name)
            self._on_batch([Sample(p.key, None, Quality.BAD, Reason.COMM_FAILURE) for p in points])

    async def _shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._importer is not None:
            self._importer.shutdown(wait=False, cancel_futures=True)
            self._importer = None

    # ---- data path -------------------------------------------------------------------------

    def _on_batch(self, samples: list[Sample]) -> None:
        """Apply one driver batch: scale, deadband, calc tags, store, notify (runtime thread)."""
        now = time.time()
        store = self.store
        changes: ChangeBatch = []
        changed_names: set[str] = set()
        self.samples_in += len(samples)
        if not self.first_values.is_set():
            self.first_values.set()
        for sample in samples:
            for tag in self._by_key.get(sample.key, ()):
                new = _to_value(tag, sample, now)
                if tag.changed(store.get(tag.name), new):
                    changes.append((tag.name, new))
                    changed_names.add(tag.name)
        if not changes:
            return
        store.update(changes)
        calc_changes = self._evaluate_calcs(self._affected_calcs(changed_names), now)
        self._notify(changes + calc_changes)

    def _affected_calcs(self, changed: set[str]) -> set[str]:
        dependents = self.project.dependents
        affected: set[str] = set()
        for name in changed:
            affected.update(dependents.get(name, ()))
        return affected

    def _evaluate_calcs(self, names: set[str], now: float) -> ChangeBatch:
        """Recompute calc tags in dependency order; store and return the changed ones."""
        if not names:
            return []
        store = self.store
        changes: ChangeBatch = []
        for name in sorted(names, key=self._calc_rank.__getitem__):
            tag = self.tags[name]
            value, quality, reason = self.project.expressions[name].evaluate(store.get)
            if value is not None and quality is not Quality.BAD:
                value, q2, r2 = tag.to_engineering(value)
                if q2 < quality:
                    quality, reason = q2, r2
            new = Value(value if quality is not Quality.BAD else None, quality, reason, now, now)
            if tag.changed(store.get(name), new):
                store.update(((name, new),))  # later calcs may read this one
                changes.append((name, new))
        return changes

    def _notify(self, changes: ChangeBatch) -> None:
        for callback in self._subscribers:
            try:
                callback(changes)
            except Exception:
                log.exception("subscriber %r failed", callback)

    async def _diagnostics_loop(self) -> None:
        while True:
            self._publish_link_stats()
            await asyncio.sleep(DIAG_PERIOD)

    def _publish_link_stats(self) -> None:
        now = time.time()
        changes: ChangeBatch = []
        for device, driver in self._drivers.items():
            stats = driver.stats()
            for name, _unit, _type, _text in LINK_FIELDS:
                raw = stats.since if name == "last_change" else getattr(stats, name)
                tag = self.tags[link_tag_name(device, name)]
                ts = stats.since if name == "online" else now
                if raw is None:  # e.g. no response time measured yet
                    new = Value(None, Quality.BAD, Reason.INITIAL, ts, now)
                else:
                    new = Value(raw, Quality.GOOD, Reason.NONE, ts, now)
                if tag.changed(self.store.get(tag.name), new):
                    changes.append((tag.name, new))
        for tags, read in self._system:
            try:
                values = read()
            except Exception:
                log.exception("system tag source %r failed", read)
                continue
            for tag in tags:
                raw = values.get(tag.name)
                if raw is None:
                    new = Value(None, Quality.BAD, Reason.INITIAL, now, now)
                else:
                    new = Value(raw, Quality.GOOD, Reason.NONE, now, now)
                if tag.changed(self.store.get(tag.name), new):
                    changes.append((tag.name, new))
        if changes:
            self.store.update(changes)
            self._notify(changes)

    # ---- queries and writes ----------------------------------------------------------------

    async def refresh_link_stats(self) -> None:
        """Publish the diagnostics tags now instead of at the next period."""
        self._publish_link_stats()

    def link_stats(self) -> dict[str, LinkStats]:
        """Link statistics of every device with a running driver."""
        return {name: driver.stats() for name, driver in self._drivers.items()}

    async def write(self, tag_name: str, value: Any) -> WriteResult:
        """Write an engineering value to a tag's source (one attempt; on the runtime loop).

        Only `hmi.commands` may call this for plant writes: it checks roles and interlocks first.
        """
        tag = self.tags.get(tag_name)
        if tag is None:
            raise RequestError(f"unknown tag {tag_name!r}")
        if not tag.writable or tag.address is None:
            raise RequestError(f"tag {tag_name} is not writable")
        driver = self._drivers.get(tag.address.authority)
        if driver is None:
            raise RequestError(f"device {tag.address.authority} of tag {tag_name} is not running")
        return await driver.write(tag.address, tag.to_raw(value))


def _to_value(tag: TagDef, sample: Sample, now: float) -> Value:
    """The tag-level value of one raw sample (bad samples carry no number)."""
    if sample.quality is Quality.BAD:
        return Value(None, Quality.BAD, sample.reason, sample.source_ts, now)
    value, quality, reason = tag.to_engineering(sample.value)
    if quality is Quality.BAD:
        return Value(None, quality, reason, sample.source_ts, now)
    if sample.quality < quality:
        quality, reason = sample.quality, sample.reason
    return Value(value, quality, reason, sample.source_ts or now, now)

"""The alarm journal: every Transition stored through SQLAlchemy, and queries over it.

`Journal.record` runs on the caller's thread (the runtime's): it appends to an in-memory queue
under a short lock and returns; a writer thread inserts what is queued as one batch in one
transaction (executemany), so batches grow by themselves while the database is busy. Nothing
is ever dropped: when the queue holds `max_queue` transitions, `record` waits until the writer
has made room (back-pressure, with one warning per episode), so memory stays bounded by
`max_queue + batch_size` transitions. A batch that cannot be written (database gone, locked,
table missing) is kept and retried with a growing delay; the failure is logged once, the
recovery once. Only `close` gives up, after its timeout, and it says how many were not written.

Timestamps are stored as float epoch seconds (DOUBLE): `Transition.ts` is one, so a round trip
is exact and costs nothing; SQLite has no timezone-aware datetime type (SQLAlchemy would store
text there), while a double compares, indexes and buckets the same way on SQLite and
PostgreSQL. Convert to a datetime at the edge (screens, reports).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Double,
    Engine,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    select,
)

from hmi.alarms.model import AlarmState, Event, Priority, Transition
from hmi.db import metadata

__all__ = ["Journal", "JournalClosed", "alarm_journal", "query_journal", "transition_row"]

log = logging.getLogger("hmi.alarms.journal")

alarm_journal = Table(
    "alarm_journal",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", Double, nullable=False),  # epoch seconds (see the module docstring)
    Column("alarm", String(200), nullable=False),
    Column("event", String(32), nullable=False),
    Column("state", String(32), nullable=False),
    Column("priority", SmallInteger, nullable=False),
    Column("area", String(100), nullable=False),
    Column("tag", String(200), nullable=False),
    Column("value", Double),
    Column("limit", Double),
    Column("user", String(100), nullable=False),
    Column("comment", Text, nullable=False),
    Column("host", String(100), nullable=False),
    # the time range is in every query; the others narrow it for one alarm, area or tag.
    # priority and state have a handful of values each: filtered on the time-range rows.
    Index("ix_alarm_journal_ts", "ts"),
    Index("ix_alarm_journal_alarm_ts", "alarm", "ts"),
    Index("ix_alarm_journal_area_ts", "area", "ts"),
    Index("ix_alarm_journal_tag_ts", "tag", "ts"),
)

_COLUMNS = alarm_journal.c


class JournalClosed(RuntimeError):
    """The journal was closed: it records nothing more."""


def transition_row(t: Transition) -> dict[str, Any]:
    """A transition as a plain, JSON-ready row (enums as their values)."""
    return {
        "ts": t.ts,
        "alarm": t.alarm,
        "event": t.event.value,
        "state": t.state.value,
        "priority": int(t.priority),
        "area": t.area,
        "tag": t.tag,
        "value": t.value,
        "limit": t.limit,
        "user": t.user,
        "comment": t.comment,
        "host": t.host,
    }


class Journal:
    """Records transitions from a writer thread (bounded queue, back-pressure) and queries them."""

    def __init__(
        self,
        engine: Engine,
        *,
        max_queue: int = 50_000,
        batch_size: int = 5_000,
        retry_delay: float = 0.5,
        retry_max: float = 10.0,
        also: Sequence[Callable[[Connection, list[Transition]], None]] = (),
    ) -> None:
        if max_queue < 1 or batch_size < 1:
            raise ValueError("max_queue and batch_size must be at least 1")
        self.engine = engine
        self.max_queue = max_queue
        self.batch_size = batch_size
        self.retry_delay = retry_delay
        self.retry_max = retry_max
        # records kept from each written batch after it (e.g. the alarm responses)
        self.also = tuple(also)
        self.also_errors = 0
        self._also_ok = [True] * len(self.also)
        self._queue: deque[Transition] = deque()
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._not_full = threading.Condition(self._lock)
        self._written_cond = threading.Condition(self._lock)
        self._in_flight = 0  # transitions taken by the batch being written
        self._accepted = 0  # transitions queued since the start
        self._closed = False
        self._give_up_at = float("inf")  # monotonic deadline for a failing writer once closing
        self._waiting_since: float | None = None  # start of the current back-pressure episode
        self.written = 0  # transitions committed
        self.errors = 0  # failed write attempts
        self.waits = 0  # record calls that had to wait for room
        self.peak_queue = 0  # the most transitions ever waiting in the queue
        self.online = True  # False from a failed write until one succeeds
        self._stop = threading.Event()  # set by close(): cuts a retry delay short
        self._thread = threading.Thread(target=self._run, name="conduit-alarm-journal", daemon=True)
        self._thread.start()

    # ---- producers ---------------------------------------------------------------------------

    def record(self, transitions: Sequence[Transition]) -> None:
        """Queue transitions for writing; waits only while the queue is full (back-pressure)."""
        i, n = 0, len(transitions)
        with self._lock:
            waited = False
            while i < n:
                if self._closed:
                    raise JournalClosed(f"alarm journal closed: {n - i} transitions not recorded")
                room = self.max_queue - len(self._queue)
                if room <= 0:
                    if not waited:
                        waited = True
                        self.waits += 1
                    self._start_waiting()
                    self._not_full.wait()
                    continue
                chunk = transitions[i : i + room]
                self._queue.extend(chunk)
                i += len(chunk)
                self._accepted += len(chunk)
                self.peak_queue = max(self.peak_queue, len(self._queue))
                self._not_empty.notify()

    def _start_waiting(self) -> None:
        if self._waiting_since is None:
            self._waiting_since = time.monotonic()
            log.warning(
                "alarm journal: %d transitions wait for the database; recording waits for room",
                len(self._queue),
            )

    def queued(self) -> int:
        """Transitions not committed yet: waiting in the queue or in the batch being written."""
        with self._lock:
            return len(self._queue) + self._in_flight

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything recorded before the call is committed; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            target = self._accepted
            while self.written < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._thread.is_alive():
                    return False
                self._written_cond.wait(remaining)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (retrying for up to `timeout` seconds), then stop the writer."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._give_up_at = time.monotonic() + timeout
            self._not_empty.notify_all()
            self._not_full.notify_all()
        self._stop.set()
        self._thread.join(timeout + 5.0)
        if self._thread.is_alive():  # pragma: no cover - a write hung in the driver
            log.error("alarm journal: the writer did not stop within %.0f s", timeout)

    # ---- writer thread -----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    self._not_empty.wait()
                if not self._queue:
                    return
                batch = [
                    self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))
                ]
                self._in_flight = len(batch)
                self._not_full.notify_all()
            if not self._write(batch):
                with self._lock:
                    lost = len(batch) + len(self._queue)
                    self._queue.clear()
                    self._in_flight = 0
                    self._not_full.notify_all()
                log.error("alarm journal: closed with %d transitions not written", lost)
                return

    def _write(self, batch: list[Transition]) -> bool:
        """Insert one batch in one transaction, retrying until it works; False if given up."""
        rows = [transition_row(t) for t in batch]
        delay, failures = self.retry_delay, 0
        while True:
            try:
                with self.engine.begin() as conn:
                    conn.execute(alarm_journal.insert(), rows)
                break
            except Exception as exc:
                self.errors += 1
                failures += 1
                if self.online:
                    self.online = False
                    log.warning("alarm journal: cannot write, retrying: %s", _one_line(exc))
            if not self._stop.wait(delay):  # close() cuts the first delay short
                delay = min(delay * 2, self.retry_max)
                continue
            remaining = self._give_up_at - time.monotonic()
            if remaining <= 0:
                return False
            threading.Event().wait(min(delay, remaining))  # closing: keep trying until the timeout
            delay = min(delay * 2, self.retry_max)
        if not self.online:
            self.online = True
            log.info("alarm journal: written again after %d failed attempts", failures)
        self._keep_also(batch)
        with self._lock:
            self.written += len(batch)
            self._in_flight = 0
            self._written_cond.notify_all()
            if self._waiting_since is not None and len(self._queue) < self.max_queue // 2:
                log.info(
                    "alarm journal: caught up after recording waited %.1f s",
                    time.monotonic() - self._waiting_since,
                )
                self._waiting_since = None
        return True

    def _keep_also(self, batch: list[Transition]) -> None:
        """Keep the records that follow the journal, each in its own transaction.

        A failure is logged once per episode and never holds up the journal.
        """
        for i, keep in enumerate(self.also):
            try:
                with self.engine.begin() as conn:
                    keep(conn, batch)
            except Exception as exc:
                self.also_errors += 1
                if self._also_ok[i]:
                    self._also_ok[i] = False
                    log.warning(
                        "alarm journal: records that follow it not kept: %s", _one_line(exc)
                    )
            else:
                self._also_ok[i] = True

    # ---- queries -----------------------------------------------------------------------------

    def query(
        self,
        start: float | None = None,
        end: float | None = None,
        *,
        priority: Priority | None = None,
        areas: Iterable[str] | None = None,
        tags: Iterable[str] | None = None,
        states: Iterable[AlarmState] | None = None,
        events: Iterable[Event] | None = None,
        alarm: str | None = None,
        limit: int = 10_000,
    ) -> list[Transition]:
        """Committed transitions matching the filters, oldest first (see `query_journal`)."""
        return query_journal(
            self.engine,
            start,
            end,
            priority=priority,
            areas=areas,
            tags=tags,
            states=states,
            events=events,
            alarm=alarm,
            limit=limit,
        )


def query_journal(
    engine: Engine,
    start: float | None = None,
    end: float | None = None,
    *,
    priority: Priority | None = None,
    areas: Iterable[str] | None = None,
    tags: Iterable[str] | None = None,
    states: Iterable[AlarmState] | None = None,
    events: Iterable[Event] | None = None,
    alarm: str | None = None,
    limit: int = 10_000,
) -> list[Transition]:
    """The journal's transitions matching every filter given, in time (then insertion) order."""
    c = _COLUMNS
    stmt = select(alarm_journal).order_by(c.ts, c.id).limit(limit)
    if start is not None:
        stmt = stmt.where(c.ts >= start)
    if end is not None:
        stmt = stmt.where(c.ts < end)
    if priority is not None:
        stmt = stmt.where(c.priority >= int(priority))
    if areas is not None:
        stmt = stmt.where(c.area.in_(list(areas)))
    if tags is not None:
        stmt = stmt.where(c.tag.in_(list(tags)))
    if states is not None:
        stmt = stmt.where(c.state.in_([s.value for s in states]))
    if events is not None:
        stmt = stmt.where(c.event.in_([e.value for e in events]))
    if alarm is not None:
        stmt = stmt.where(c.alarm == alarm)
    with engine.connect() as conn:
        return [
            Transition(
                ts=r["ts"],
                alarm=r["alarm"],
                event=Event(r["event"]),
                state=AlarmState(r["state"]),
                priority=Priority(r["priority"]),
                area=r["area"],
                tag=r["tag"],
                value=r["value"],
                limit=r["limit"],
                user=r["user"],
                comment=r["comment"],
                host=r["host"],
            )
            for r in conn.execute(stmt).mappings()
        ]


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"

"""What diagnostics keep for reports: link outages per device, data-quality time per tag-month.

Two tables on the relational store (`hmi.db`):

- `link_outage`: one row per outage of a device link (start, end; end NULL while it lasts).
  An outage still open when the station stops is closed at the stop; one left open by a crash
  is closed at the next start (the time between is unknown and counted as outage).
- `data_quality`: per tag and calendar month (station local time), the seconds watched and
  the seconds with a finding (bad quality, frozen, out of range, within a spike's hold), and
  the count of each finding. Data accuracy % = 100 x (watched - faulty) / watched.

`RecordWriter` takes updates from the runtime thread without waiting (a short lock) and writes
them from its own thread once a period, in one transaction; a failed write keeps everything
and is retried, logged once. Queries (`link_outages`, `data_accuracy`) serve reports and CLI.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Double,
    Engine,
    Index,
    Integer,
    String,
    Table,
    bindparam,
    select,
    update,
)

from hmi.db import metadata

__all__ = [
    "AccuracyRow",
    "OutageSummary",
    "QualityDelta",
    "RecordWriter",
    "data_accuracy",
    "data_quality",
    "link_outage",
    "link_outages",
    "month_of",
]

log = logging.getLogger("hmi.diagnostics")

link_outage = Table(
    "link_outage",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device", String(100), nullable=False),
    Column("start", Double, nullable=False),  # epoch seconds
    Column("end", Double),  # NULL while the outage lasts
    Index("ix_link_outage_device_start", "device", "start"),
    Index("ix_link_outage_start", "start"),
)

data_quality = Table(
    "data_quality",
    metadata,
    Column("tag", String(200), primary_key=True),
    Column("month", String(7), primary_key=True),  # "2026-11", station local time
    Column("watched_s", Double, nullable=False),
    Column("faulty_s", Double, nullable=False),
    Column("bad_s", Double, nullable=False),
    Column("frozen_s", Double, nullable=False),
    Column("range_s", Double, nullable=False),
    Column("bad_count", Integer, nullable=False),
    Column("frozen_count", Integer, nullable=False),
    Column("range_count", Integer, nullable=False),
    Column("spike_count", Integer, nullable=False),
)

_SECONDS = ("watched_s", "faulty_s", "bad_s", "frozen_s", "range_s")
_COUNTS = ("bad_count", "frozen_count", "range_count", "spike_count")


def month_of(ts: float) -> str:
    """The calendar month of `ts` in the station's local time, e.g. "2026-11"."""
    return time.strftime("%Y-%m", time.localtime(ts))


@dataclass(slots=True)
class QualityDelta:
    """Seconds and counts to add to one tag-month row."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(_SECONDS, 0.0))
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_COUNTS, 0))


@dataclass(frozen=True, slots=True)
class OutageSummary:
    """A device's outages within a period: how many began or lasted into it, and minutes."""

    device: str
    count: int
    minutes: float


@dataclass(frozen=True, slots=True)
class AccuracyRow:
    """One tag's data quality in one month."""

    tag: str
    month: str
    watched_s: float
    faulty_s: float
    bad_s: float
    frozen_s: float
    range_s: float
    bad_count: int
    frozen_count: int
    range_count: int
    spike_count: int

    @property
    def accuracy_pct(self) -> float | None:
        """Share of the watched time without a finding, in % (None when never watched)."""
        if self.watched_s <= 0:
            return None
        return 100.0 * (self.watched_s - self.faulty_s) / self.watched_s


class RecordWriter:
    """Collects outage events and quality deltas; writes them from its own thread."""

    def __init__(self, engine: Engine, *, period: float = 60.0, retry_max: float = 60.0) -> None:
        self.engine = engine
        self.period = period
        self.retry_max = retry_max
        self._lock = threading.Lock()
        self._events: list[tuple[str, str, float]] = []  # ("open"|"close", device, ts)
        self._quality: dict[tuple[str, str], QualityDelta] = {}
        self._open: set[str] = set()  # devices with an outage open (as written or queued)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.online = True
        self.errors = 0
        self.last_seen = time.time()

    # ---- producers (runtime thread) ----------------------------------------------------------

    def outage_began(self, device: str, ts: float) -> None:
        """A device link went offline at `ts` (ignored when its outage is already open)."""
        with self._lock:
            if device not in self._open:
                self._open.add(device)
                self._events.append(("open", device, ts))

    def outage_ended(self, device: str, ts: float) -> None:
        """A device link came back at `ts` (ignored when no outage is open)."""
        with self._lock:
            if device in self._open:
                self._open.discard(device)
                self._events.append(("close", device, ts))

    def add_quality(
        self, tag: str, ts: float, seconds: dict[str, float], counts: dict[str, int]
    ) -> None:
        """Add watched/faulty seconds and finding counts to `tag`'s row for the month of `ts`."""
        with self._lock:
            delta = self._quality.setdefault((tag, month_of(ts)), QualityDelta())
            for key, value in seconds.items():
                delta.seconds[key] += value
            for key, n in counts.items():
                delta.counts[key] += n

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Close outages a crash left open, then write once a period on a thread of its own."""
        self._close_dangling()
        self._thread = threading.Thread(target=self._run, name="conduit-diagnostics", daemon=True)
        self._thread.start()

    def stop(self, ts: float | None = None) -> None:
        """Close open outages at `ts` (now), write what is pending and end the thread."""
        ts = time.time() if ts is None else ts
        with self._lock:
            for device in sorted(self._open):
                self._events.append(("close", device, ts))
            self._open.clear()
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None
        self.flush()

    def _run(self) -> None:
        delay = self.period
        while not self._stop.is_set():
            self._wake.wait(delay)
            self._wake.clear()
            if self._stop.is_set():
                return
            ok = self.flush()
            delay = self.period if ok else min(max(delay, 1.0) * 2, self.retry_max)

    def flush(self) -> bool:
        """Write what is pending in one transaction; False (and kept) when it failed."""
        with self._lock:
            events, self._events = self._events, []
            quality, self._quality = self._quality, {}
        if not events and not quality:
            return True
        try:
            with self.engine.begin() as conn:
                for kind, device, ts in events:
                    if kind == "open":
                        conn.execute(link_outage.insert().values(device=device, start=ts))
                    else:
                        _close(conn, device, ts)
                _add_quality(conn, quality)
        except Exception as exc:
            with self._lock:  # back to the front: the next flush writes them first
                self._events[:0] = events
                for key, delta in quality.items():
                    mine = self._quality.setdefault(key, QualityDelta())
                    for k, v in delta.seconds.items():
                        mine.seconds[k] += v
                    for k, n in delta.counts.items():
                        mine.counts[k] += n
            self.errors += 1
            if self.online:
                self.online = False
                log.warning("diagnostics records: cannot write, retrying: %s", exc)
            return False
        if not self.online:
            self.online = True
            log.info("diagnostics records: written again")
        self.last_seen = time.time()
        return True

    def _close_dangling(self) -> None:
        """Outages left open by a crash end now."""
        try:
            with self.engine.begin() as conn:
                rows = conn.execute(
                    select(link_outage.c.id, link_outage.c.start).where(link_outage.c.end.is_(None))
                ).all()
                now = time.time()
                for row_id, start in rows:
                    conn.execute(
                        update(link_outage)
                        .where(link_outage.c.id == row_id)
                        .values(end=max(start, now))
                    )
        except Exception as exc:
            log.warning("diagnostics records: cannot close outages left open: %s", exc)


def _close(conn: Connection, device: str, ts: float) -> None:
    c = link_outage.c
    row = conn.execute(
        select(c.id, c.start)
        .where(c.device == device, c.end.is_(None))
        .order_by(c.start.desc())
        .limit(1)
    ).first()
    if row is not None:
        conn.execute(update(link_outage).where(c.id == row.id).values(end=max(ts, row.start)))


def _add_quality(conn: Connection, quality: dict[tuple[str, str], QualityDelta]) -> None:
    """Add the deltas to their rows: one INSERT for the new rows, one UPDATE for the rest."""
    c = data_quality.c
    by_month: dict[str, list[str]] = {}
    for tag, month in quality:
        by_month.setdefault(month, []).append(tag)
    existing: set[tuple[str, str]] = set()
    for month, tags in by_month.items():
        for i in range(0, len(tags), 500):  # bounded IN lists
            chunk = tags[i : i + 500]
            rows = conn.execute(select(c.tag).where(c.month == month, c.tag.in_(chunk)))
            existing.update((tag, month) for (tag,) in rows)
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for (tag, month), delta in quality.items():
        values = {**delta.seconds, **delta.counts}
        if (tag, month) in existing:
            updates.append({"t": tag, "m": month, **{f"d_{k}": v for k, v in values.items()}})
        else:
            inserts.append({"tag": tag, "month": month, **values})
    if inserts:
        conn.execute(data_quality.insert(), inserts)
    if updates:
        stmt = (
            update(data_quality)
            .where(c.tag == bindparam("t"), c.month == bindparam("m"))
            .values({c[k]: c[k] + bindparam(f"d_{k}") for k in (*_SECONDS, *_COUNTS)})
        )
        conn.execute(stmt, updates)


def link_outages(
    engine: Engine,
    start: float,
    end: float,
    devices: Iterable[str] | None = None,
    *,
    now: float | None = None,
) -> dict[str, OutageSummary]:
    """Per device, the outages overlapping [start, end) and their minutes within it."""
    c = link_outage.c
    stmt = select(c.device, c.start, c.end).where(
        c.start < end, (c.end.is_(None)) | (c.end > start)
    )
    if devices is not None:
        stmt = stmt.where(c.device.in_(list(devices)))
    now = time.time() if now is None else now
    count: dict[str, int] = {}
    seconds: dict[str, float] = {}
    with engine.connect() as conn:
        for device, began, ended in conn.execute(stmt):
            stop = min(end, now if ended is None else ended)
            count[device] = count.get(device, 0) + 1
            seconds[device] = seconds.get(device, 0.0) + max(0.0, stop - max(start, began))
    return {d: OutageSummary(d, count[d], seconds[d] / 60.0) for d in sorted(count)}


def data_accuracy(
    engine: Engine, month: str, tags: Iterable[str] | None = None
) -> list[AccuracyRow]:
    """The data-quality rows of `month` ("YYYY-MM"), worst accuracy first."""
    c = data_quality.c
    stmt = select(data_quality).where(c.month == month)
    if tags is not None:
        stmt = stmt.where(c.tag.in_(list(tags)))
    with engine.connect() as conn:
        rows = [AccuracyRow(**dict(r)) for r in conn.execute(stmt).mappings()]
    rows.sort(key=lambda r: (r.accuracy_pct if r.accuracy_pct is not None else 101.0, r.tag))
    return rows

"""HistoryWriter: a runtime subscriber that queues changes and appends them in batches.

`on_changes` runs on the runtime thread: it converts the batch and appends it to a bounded
in-memory queue under a short lock, never waiting on I/O. When the queue is full the oldest
rows are dropped (and counted) so the newest data is kept. A background thread drains the
queue every `flush_interval` seconds, or sooner when `flush_rows` rows are waiting, and
appends everything as one batch in one transaction.

When a batch cannot be written (disk full, file gone read-only, a store that could not be
opened) it goes back to the front of the queue, the writer goes offline (`online` False, the
error logged once in one line) and retries with a growing delay; while offline the queue keeps
the newest `max_rows` rows. A store DuckDB has invalidated (a failed checkpoint leaves the
database unusable until it is reopened) is closed and opened again on the next retry; a store
that cannot be opened is retried every `reopen_period` seconds. The writer never raises into
the runtime and never writes a batch twice: DuckDB either commits a batch or leaves none of it.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import duckdb
import numpy as np

from hmi.history.columns import ColumnQueue, Columns
from hmi.history.store import HistoryStore
from hmi.tags import DataType, TagDef, Value

__all__ = ["HistoryWriter", "describe_error"]

log = logging.getLogger("hmi.history")

# Errors a full disk, a read-only or missing folder or a locked file produce: logged in one
# line. Anything else is a bug and is logged (once) with its traceback.
EXPECTED_ERRORS = (OSError, duckdb.Error)


class HistoryWriter:
    """Records the changes of history tags into a HistoryStore from its own thread."""

    def __init__(
        self,
        store: HistoryStore | None,
        tags: Mapping[str, TagDef],
        *,
        opener: Callable[[], HistoryStore] | None = None,
        path: Path | None = None,
        max_rows: int = 200_000,
        flush_interval: float = 0.5,
        flush_rows: int = 50_000,
        retry_delay: float = 0.5,
        retry_max: float = 5.0,
        reopen_period: float = 10.0,
    ) -> None:
        if store is None and opener is None:
            raise ValueError("HistoryWriter needs a store or an opener")
        self.store = store
        self._opener = opener if opener is not None else self._reopen_same
        self._path = store.path if store is not None else path  # for messages and reopening
        self._wanted = frozenset(
            name for name, t in tags.items() if t.history and t.type is not DataType.STRING
        )
        self.max_rows = max_rows
        self.flush_interval = flush_interval
        self.flush_rows = flush_rows
        self.retry_delay = retry_delay
        self.retry_max = retry_max
        self.reopen_period = reopen_period
        self._queue = ColumnQueue(max_rows)
        self._in_flight = 0  # rows taken from the queue by the append under way
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._written_cond = threading.Condition()
        self.dropped = 0  # rows lost because the queue was full
        self.written = 0  # rows appended to the store
        self.errors = 0  # write or open attempts that failed
        self.online = True  # False from a failed attempt until the next one that works
        self._failures = 0  # attempts failed in a row
        self._backoff = 0.0  # delay before the next retry while offline
        if self.store is None:
            self._open()
        self._thread = threading.Thread(target=self._run, name="conduit-history", daemon=True)
        self._thread.start()

    # ---- runtime thread --------------------------------------------------------------------

    def on_changes(self, batch: list[tuple[str, Value]]) -> None:
        """Queue the history tags of a change batch; never blocks on I/O (Runtime subscriber)."""
        cols = Columns()
        names, ts, values, qualities = cols.names, cols.ts, cols.values, cols.qualities
        wanted, nan = self._wanted, math.nan
        for name, v in batch:
            if name not in wanted:
                continue
            raw = v.value
            if raw is None:
                raw = nan
            elif not isinstance(raw, bool | int | float):
                continue
            names.append(name)
            ts.append(v.recv_ts if v.source_ts is None else v.source_ts)
            values.append(raw)
            qualities.append(v.quality)
        if not names:
            return
        with self._lock:
            self.dropped += self._queue.put(cols)
            waiting = len(self._queue)
        if waiting >= self.flush_rows:
            self._wake.set()

    def queue_fill(self) -> float:
        """How full the queue is, 0..1 (rows being appended count until they are written)."""
        return min(1.0, self.queued() / self.max_rows)

    def queued(self) -> int:
        """Rows not written yet: waiting in the queue or being appended."""
        return len(self._queue) + self._in_flight

    # ---- writer thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            if self.online:
                self._wake.wait(self.flush_interval)
            else:  # a full queue must not turn the retry delay into a busy loop
                self._stopping.wait(max(self._backoff, 0.01))
            self._wake.clear()
            if not self._stopping.is_set():
                self.flush()
        self.flush()
        if self.queued():
            log.error("history: %d values not written at stop (%s)", self.queued(), self._where())

    def flush(self) -> int:
        """Append everything queued as one batch now; rows written (call from one thread).

        Opens the store first if it is closed. A batch that fails goes back to the front of
        the queue for the next attempt.
        """
        store = self.store if self.store is not None else self._open()
        if store is None:
            return 0
        with self._lock:
            if not len(self._queue):
                return 0
            rows = self._queue.take()
            self._in_flight = sum(len(c) for c in rows)
        try:
            n = self._append(store, rows)
        except Exception as exc:
            self._requeue(rows)
            self._failed("write", exc)
            if _invalidated(exc):
                self._close()  # DuckDB wants it reopened: the next attempt does
            return 0
        with self._written_cond:
            self.written += n
            self._in_flight = 0
            self._written_cond.notify_all()
        self._works(n)
        return n

    def _append(self, store: HistoryStore, chunks: list[Columns]) -> int:
        names = [name for c in chunks for name in c.names]
        ids = store.tag_ids(set(names))
        ts = np.fromiter((t for c in chunks for t in c.ts), np.float64, len(names))
        return store.append_arrays(
            np.round(ts * 1000).astype(np.int64),
            np.fromiter(map(ids.__getitem__, names), np.uint32, len(names)),
            np.fromiter((x for c in chunks for x in c.values), np.float64, len(names)),
            np.fromiter((q for c in chunks for q in c.qualities), np.uint8, len(names)),
        )

    def _requeue(self, chunks: list[Columns]) -> None:
        """Put a failed batch back before the rows queued since, dropping the oldest if full."""
        with self._lock:
            self.dropped += self._queue.put_back(chunks)
            self._in_flight = 0

    def _open(self) -> HistoryStore | None:
        try:
            store = self._opener()
        except Exception as exc:
            self._failed("open", exc)
            self._backoff = max(self._backoff, self.reopen_period)
            return None
        self.store, self._path = store, store.path
        if self.queued() == 0:  # nothing to catch up: the store working is the news
            self._works(0)
        return store

    def _reopen_same(self) -> HistoryStore:
        assert self._path is not None
        return HistoryStore(self._path)

    def _close(self) -> None:
        store, self.store = self.store, None
        if store is None:
            return
        try:
            store.close()
        except Exception as exc:  # an invalidated database may refuse even this
            log.debug("history: closing %s after an error: %s", store.path, describe_error(exc))

    def _failed(self, doing: str, exc: BaseException) -> None:
        """Count a failed attempt, go offline and say so once."""
        self.errors += 1
        self._failures += 1
        self._backoff = min(self.retry_delay * 2 ** min(self._failures - 1, 16), self.retry_max)
        if not self.online:
            log.debug("history: still cannot %s %s: %s", doing, self._where(), describe_error(exc))
            return
        self.online = False
        log.error(
            "history: cannot %s %s: %s — keeping the newest %d values in memory",
            doing,
            self._where(),
            describe_error(exc),
            self.max_rows,
            exc_info=exc if not isinstance(exc, EXPECTED_ERRORS) else None,
        )

    def _works(self, caught_up: int) -> None:
        self._failures, self._backoff = 0, 0.0
        if self.online:
            return
        self.online = True
        log.info("history: writing again to %s, %d values caught up", self._where(), caught_up)

    def _where(self) -> str:
        return str(self._path) if self._path is not None else "the history file"

    def wait_written(self, count: int, timeout: float) -> bool:
        """Wait until at least `count` rows were written; False on timeout."""
        with self._written_cond:
            return self._written_cond.wait_for(lambda: self.written >= count, timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Flush what is queued (one last attempt) and join the writer thread."""
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout)

    def close(self) -> None:
        """Close the store the writer holds now (after `stop`)."""
        self._close()


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and those it was raised from or while handling, outermost first."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


def _invalidated(exc: BaseException) -> bool:
    """True when DuckDB needs the database reopened (a fatal error invalidated it)."""
    for e in _chain(exc):
        if isinstance(e, duckdb.FatalException | duckdb.ConnectionException):
            return True
        if "invalidated" in str(e) or "already closed" in str(e):
            return True
    return False


_DUCKDB_PREFIX = re.compile(
    r"^(?:(?:TransactionContext|IO|FATAL|Invalid Input|Connection) Error: |Failed to commit: "
    r"|Failed: )+"
)


def describe_error(exc: BaseException) -> str:
    """A one-line account of what went wrong, from the original cause of `exc`.

    DuckDB's rollback after a failed commit raises its own error ("no transaction is active")
    that hides the cause, and a fatal error quotes the cause as `Original error: "..."`; both
    are unwrapped here to the OS-level message (e.g. `Could not write file ...: No space left`).
    """
    root = list(_chain(exc))[-1]
    text = str(root) if isinstance(root, EXPECTED_ERRORS) else f"{type(root).__name__}: {root}"
    quoted = re.search(r'Original error: "(.*)"', text, re.S)
    if quoted:
        text = quoted.group(1)
    text = " ".join(text.split())
    return _DUCKDB_PREFIX.sub("", text) or type(root).__name__

"""HistoryWriter: a runtime subscriber that queues changes and appends them in batches.

`on_changes` runs on the runtime thread: it converts the batch and appends it to a bounded
in-memory queue under a short lock, never waiting on I/O. When the queue is full the oldest
rows are dropped (and counted) so the newest data is kept. A background thread drains the
queue every `flush_interval` seconds, or sooner when `flush_rows` rows are waiting, and
appends everything as one batch in one transaction.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Mapping

import numpy as np

from hmi.history.store import HistoryStore
from hmi.tags import DataType, TagDef, Value

__all__ = ["HistoryWriter"]

log = logging.getLogger("hmi.history")

Row = tuple[str, int, float, int]  # tag name, epoch ms, value (NaN = none), quality


class HistoryWriter:
    """Records the changes of history tags into a HistoryStore from its own thread."""

    def __init__(
        self,
        store: HistoryStore,
        tags: Mapping[str, TagDef],
        *,
        max_rows: int = 200_000,
        flush_interval: float = 0.5,
        flush_rows: int = 50_000,
    ) -> None:
        self.store = store
        self._wanted = frozenset(
            name for name, t in tags.items() if t.history and t.type is not DataType.STRING
        )
        self.max_rows = max_rows
        self.flush_interval = flush_interval
        self.flush_rows = flush_rows
        self._queue: deque[Row] = deque(maxlen=max_rows)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._written_cond = threading.Condition()
        self.dropped = 0  # rows lost because the queue was full
        self.written = 0  # rows appended to the store
        self.errors = 0  # batches the store refused
        self._thread = threading.Thread(target=self._run, name="conduit-history", daemon=True)
        self._thread.start()

    # ---- runtime thread --------------------------------------------------------------------

    def on_changes(self, batch: list[tuple[str, Value]]) -> None:
        """Queue the history tags of a change batch; never blocks on I/O (Runtime subscriber)."""
        rows: list[Row] = []
        wanted = self._wanted
        for name, v in batch:
            if name not in wanted:
                continue
            raw = v.value
            if raw is None:
                number = float("nan")
            elif isinstance(raw, bool | int | float):
                number = float(raw)
            else:
                continue
            ts = v.source_ts if v.source_ts is not None else v.recv_ts
            rows.append((name, round(ts * 1000), number, int(v.quality)))
        if not rows:
            return
        with self._lock:
            overflow = len(self._queue) + len(rows) - self.max_rows
            if overflow > 0:
                self.dropped += overflow
            self._queue.extend(rows)  # a full deque drops its oldest rows
            waiting = len(self._queue)
        if waiting >= self.flush_rows:
            self._wake.set()

    def queue_fill(self) -> float:
        """How full the queue is, 0..1."""
        return len(self._queue) / self.max_rows

    # ---- writer thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            self.flush()
        self.flush()

    def flush(self) -> int:
        """Append everything queued as one batch now; rows written (call from one thread)."""
        with self._lock:
            if not self._queue:
                return 0
            rows, self._queue = self._queue, deque(maxlen=self.max_rows)
        try:
            names = [r[0] for r in rows]
            ids = self.store.tag_ids(set(names))
            n = self.store.append_arrays(
                np.fromiter((r[1] for r in rows), np.int64, len(rows)),
                np.fromiter((ids[name] for name in names), np.uint32, len(rows)),
                np.fromiter((r[2] for r in rows), np.float64, len(rows)),
                np.fromiter((r[3] for r in rows), np.uint8, len(rows)),
            )
        except Exception:
            self.errors += 1
            log.exception("history: could not append %d rows", len(rows))
            return 0
        with self._written_cond:
            self.written += n
            self._written_cond.notify_all()
        return n

    def wait_written(self, count: int, timeout: float) -> bool:
        """Wait until at least `count` rows were written; False on timeout."""
        with self._written_cond:
            return self._written_cond.wait_for(lambda: self.written >= count, timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Flush what is queued and join the writer thread."""
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout)

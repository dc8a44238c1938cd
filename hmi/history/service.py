"""The historian as a station runs it: recording policy, writer, rollups, compaction, retention.

Every second the maintenance thread records what the recording policy has due (merged changes,
heartbeats); every minute it rolls up whole hours; every hour it compacts past days into the
sorted archive and deletes raw rows older than the project's retention once rolled up.

Opened by the station on a file per project under the data folder. If the file cannot be opened
(another process holds it, a read-only folder, a full disk) or stops taking writes, the station
runs on: the error is logged once, `_diag.history.online` turns False (the alarm system watches
it), the newest values wait in the writer's bounded queue and the writer retries (opening every
`open_retry` seconds) until the queue drains into the file and `online` is True again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hmi.history.policy import RecordingPolicy
from hmi.history_config import HistorySettings
from hmi.resources import slug
from hmi.tags import DataType, TagDef, Value

if TYPE_CHECKING:  # DuckDB, NumPy and PyArrow: imported by start
    from hmi.history.store import HistoryStore
    from hmi.history.writer import HistoryWriter

log = logging.getLogger("hmi.history")

TICK = 1.0  # seconds between heartbeat checks
MAINTENANCE_PERIOD = 60.0  # seconds between rollups
RETENTION_PERIOD = 3600.0  # seconds between compaction and retention passes
OPEN_RETRY_PERIOD = 10.0  # seconds between attempts to open a history file that failed to open

# `_diag.history.<field>`: (field, unit, type, description)
HISTORY_FIELDS = (
    ("queue_fill", "%", DataType.FLOAT, "History write queue fill"),
    ("written", "", DataType.INT, "Values written to history"),
    ("dropped", "", DataType.INT, "Values lost because the history queue was full"),
    ("errors", "", DataType.INT, "Failed attempts to write or open the history file"),
    ("online", "", DataType.BOOL, "History is being written (False: values wait in memory)"),
)


def history_path(data_dir: Path, project_name: str) -> Path:
    """The history file of a project."""
    return data_dir / "history" / f"{slug(project_name)}.duckdb"


def history_tag_defs() -> list[TagDef]:
    """Definitions of the `_diag.history.*` tags."""
    return [
        TagDef(
            name=f"_diag.history.{name}",
            description=text,
            unit=unit,
            type=dtype,
            decimals=1 if dtype is DataType.FLOAT else None,
            history=False,
        )
        for name, unit, dtype, text in HISTORY_FIELDS
    ]


class HistoryService:
    """Records a station's history tags and keeps rollups and retention up to date."""

    def __init__(
        self,
        path: Path,
        tags: Mapping[str, TagDef],
        settings: HistorySettings | None = None,
        *,
        open_retry: float = OPEN_RETRY_PERIOD,
        max_rows: int = 200_000,
        flush_interval: float = 0.5,
        retry_delay: float = 0.5,
        retry_max: float = 5.0,
    ) -> None:
        self.path = path
        self._tags = tags
        self.settings = settings or HistorySettings()
        self.policy = RecordingPolicy(tags, self.settings.max_interval)
        # read by `start`: seconds between open attempts, queue bound, write cadence, backoff
        self.open_retry = open_retry
        self.max_rows = max_rows
        self.flush_interval = flush_interval
        self.retry_delay = retry_delay
        self.retry_max = retry_max
        self.writer: HistoryWriter | None = None
        # what was due before `start` (the runtime may start first), handed to the writer then
        self._early: list[list[tuple[str, Value]]] = []
        self._early_rows = 0
        self._early_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def store(self) -> HistoryStore | None:
        """The open store, or None while the file cannot be opened (it may be reopened)."""
        return None if self.writer is None else self.writer.store

    def start(self) -> bool:
        """Start recording; False (logged) while the file cannot be opened (retried meanwhile)."""
        from hmi.history.writer import HistoryWriter

        writer = HistoryWriter(
            None,
            self._tags,
            opener=self._open,
            path=self.path,
            max_rows=self.max_rows,
            flush_interval=self.flush_interval,
            retry_delay=self.retry_delay,
            retry_max=self.retry_max,
            reopen_period=self.open_retry,
        )
        with self._early_lock:  # in order: what came early first, then the runtime's next
            for batch in self._early:
                writer.on_changes(batch)
            self._early, self._early_rows = [], 0
            self.writer = writer
        self._thread = threading.Thread(
            target=self._maintain, name="conduit-history-maintenance", daemon=True
        )
        self._thread.start()
        return writer.online

    def _open(self) -> HistoryStore:
        from hmi.history.store import HistoryStore

        self.path.parent.mkdir(parents=True, exist_ok=True)
        return HistoryStore(self.path)

    def on_changes(self, batch: list[tuple[str, Value]]) -> None:
        """Runtime subscriber: queue the changes worth recording (never blocks)."""
        due = self.policy.admit(batch, time.time())
        writer = self.writer
        if writer is None:
            with self._early_lock:
                writer = self.writer
                if writer is None:
                    if self._early_rows < self.max_rows:  # bounded like the writer's queue
                        self._early.append(due)
                        self._early_rows += len(due)
                    return
        writer.on_changes(due)

    def diagnostics(self) -> Mapping[str, Any]:
        """Values of the `_diag.history.*` tags (None before `start`)."""
        w = self.writer
        return {
            "_diag.history.queue_fill": None if w is None else 100.0 * w.queue_fill(),
            "_diag.history.written": None if w is None else w.written,
            "_diag.history.dropped": None if w is None else w.dropped,
            "_diag.history.errors": None if w is None else w.errors,
            "_diag.history.online": None if w is None else w.online,
        }

    def _maintain(self) -> None:
        started = time.monotonic()
        last_rollup = last_retention = started
        first_retention = started + MAINTENANCE_PERIOD  # not while the station starts up
        while not self._stop.wait(TICK):
            self.record_due()
            now = time.monotonic()
            if now - last_rollup >= MAINTENANCE_PERIOD:
                retention = now >= first_retention and (
                    last_retention == started or now - last_retention >= RETENTION_PERIOD
                )
                self.maintain(retention=retention)
                last_rollup = time.monotonic()
                if retention:
                    last_retention = last_rollup

    def record_due(self, now: float | None = None) -> None:
        """Queue what the recording policy has due: merged changes and heartbeats."""
        if self.writer is not None:
            due = self.policy.due(time.time() if now is None else now)
            if due:
                self.writer.on_changes(due)

    def maintain(self, *, retention: bool = True) -> None:
        """Roll up whole hours up to now; if asked, compact past days and drop old raw rows.

        Skipped while the writer is offline: the file does not take writes then.
        """
        w = self.writer
        store = None if w is None or not w.online else w.store
        if store is None:
            return
        from hmi.history.writer import EXPECTED_ERRORS, describe_error

        now_ms = int(time.time() * 1000)
        try:
            store.rollup(now_ms)
            if retention:
                store.compact(now_ms)
                store.retain(self.settings.retention, now_ms)
        except EXPECTED_ERRORS as exc:
            log.warning("history: maintenance of %s failed: %s", self.path, describe_error(exc))
        except Exception:
            log.exception("history maintenance failed")

    def stop(self) -> None:
        """Flush what is queued (one last attempt), stop the threads and close the store."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        if self.writer is not None:
            self.writer.stop()
            self.writer.close()

"""The historian as a station runs it: store, writer, periodic rollups and retention, diagnostics.

Opened by the station on a file per project under the data folder. If the file cannot be opened
(another process holds it, a read-only folder) the station runs without history and says so.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hmi.history.store import HistoryStore
from hmi.history.writer import HistoryWriter
from hmi.resources import slug
from hmi.tags import DataType, TagDef, Value

log = logging.getLogger("hmi.history")

MAINTENANCE_PERIOD = 60.0  # seconds between rollups
RETENTION_PERIOD = 3600.0  # seconds between retention passes
RAW_MAX_AGE = 365 * 86400.0  # raw rows older than this go once their rollups exist

# `_diag.history.<field>`: (field, unit, type, description)
HISTORY_FIELDS = (
    ("queue_fill", "%", DataType.FLOAT, "History write queue fill"),
    ("written", "", DataType.INT, "Values written to history"),
    ("dropped", "", DataType.INT, "Values lost because the history queue was full"),
    ("errors", "", DataType.INT, "History batches that could not be written"),
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

    def __init__(self, path: Path, tags: Mapping[str, TagDef]) -> None:
        self.path = path
        self._tags = tags
        self.store: HistoryStore | None = None
        self.writer: HistoryWriter | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> bool:
        """Open the store and start writing; False (logged) when history is unavailable."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.store = HistoryStore(self.path)
        except Exception as exc:
            log.error("history disabled: cannot open %s (%s)", self.path, exc)
            return False
        self.writer = HistoryWriter(self.store, self._tags)
        self._thread = threading.Thread(
            target=self._maintain, name="conduit-history-maintenance", daemon=True
        )
        self._thread.start()
        return True

    def on_changes(self, batch: list[tuple[str, Value]]) -> None:
        """Runtime subscriber: queue the changes (never blocks)."""
        if self.writer is not None:
            self.writer.on_changes(batch)

    def diagnostics(self) -> Mapping[str, Any]:
        """Values of the `_diag.history.*` tags (None while history is unavailable)."""
        w = self.writer
        return {
            "_diag.history.queue_fill": None if w is None else 100.0 * w.queue_fill(),
            "_diag.history.written": None if w is None else w.written,
            "_diag.history.dropped": None if w is None else w.dropped,
            "_diag.history.errors": None if w is None else w.errors,
        }

    def _maintain(self) -> None:
        last_retention = 0.0
        while not self._stop.wait(MAINTENANCE_PERIOD):
            self.maintain(retention=time.monotonic() - last_retention >= RETENTION_PERIOD)
            last_retention = time.monotonic()

    def maintain(self, *, retention: bool = True) -> None:
        """Roll up whole hours up to now and, if asked, drop raw rows past their age."""
        if self.store is None:
            return
        now_ms = int(time.time() * 1000)
        try:
            self.store.rollup(now_ms)
            if retention:
                self.store.retain(RAW_MAX_AGE, now_ms)
        except Exception:
            log.exception("history maintenance failed")

    def stop(self) -> None:
        """Flush what is queued, stop the threads and close the store."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        if self.writer is not None:
            self.writer.stop()
        if self.store is not None:
            self.store.close()

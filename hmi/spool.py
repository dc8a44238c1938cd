"""Store-and-forward buffer: a bounded, crash-safe FIFO of outgoing MQTT messages on disk.

Owns one SQLite file in WAL mode (the publisher names it
`data_home()/spool/<project-slug>-<device>.sqlite`), the message sequence number (monotonic, kept
in the file so it continues after a restart), the size bound (when full, the OLDEST messages are
dropped and counted, and an overflow episode starts that ends when the buffer drains) and the
writer thread that moves submitted work from a bounded in-memory queue to disk, so a producer
(the runtime thread) never waits for the disk. Knows nothing of MQTT, tags or payload formats.

Durability: an append commits with `synchronous=FULL` (once committed it survives a crash of the
application, of the OS and a power loss); an acknowledgement (a delete) commits with
`synchronous=NORMAL` (survives an application crash; a power loss may undo the last few, and those
messages are sent again: delivery is at least once). The file is opened in exclusive locking
mode, so a second process cannot drain the same buffer.
"""

from __future__ import annotations

import itertools
import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("hmi.spool")

QUEUE_LIMIT = 200_000  # default bound of the in-memory queue, in submitted weight (values)
_VACUUM_PAGES = 2560  # free pages returned to the file system per drain (10 MB of 4 kB pages)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS message (
    seq INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    size INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class Message:
    """One buffered MQTT message; `seq` orders the spool (and numbers the payload)."""

    seq: int
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False

    @property
    def size(self) -> int:
        """Bytes counted against the bound: the topic (UTF-8) plus the payload."""
        return len(self.topic.encode()) + len(self.payload)


# Work for the writer thread: builds messages on that thread, numbering them with next(seqs).
Render = Callable[[Iterator[int]], Sequence[Message]]


class SpoolError(Exception):
    """The buffer file cannot be used (in use by another process, unreadable, closed)."""


class Spool:
    """An on-disk FIFO of messages with a byte bound, plus its writer thread."""

    def __init__(
        self, path: str | Path, max_bytes: int, *, queue_limit: int = QUEUE_LIMIT, label: str = ""
    ) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.queue_limit = queue_limit
        self.label = label or self.path.stem
        # called on the writer thread after each committed batch, with the newest seq
        self.on_append: Callable[[int], None] | None = None
        self._db_lock = threading.Lock()
        self._stats = threading.Lock()
        self._closed = False
        self._db = self._open()
        depth, size, top = self._db.execute(
            "SELECT count(*), coalesce(sum(size), 0), coalesce(max(seq), 0) FROM message"
        ).fetchone()
        self._depth: int = int(depth)
        self._bytes: int = int(size)
        self._last_seq: int = max(int(top), self.meta("last_seq"))
        self._dropped = self.meta("dropped")
        self._overflow = bool(self.meta("overflow"))
        self._episode_start = self._dropped
        if self._overflow:
            log.warning(
                "%s: the publish buffer overflowed before this start and has not drained since",
                self.label,
            )
        self._cond = threading.Condition()
        self._jobs: deque[tuple[Render, int]] = deque()
        self._queued = 0  # weight of the jobs in `_jobs`
        self._busy = False  # the writer holds jobs it has not committed yet
        self._closing = False
        self._thread: threading.Thread | None = None

    # ---- opening -----------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return self._connect()
        except sqlite3.DatabaseError as exc:
            if "locked" in str(exc):
                raise SpoolError(
                    f"publish buffer {self.path} is in use by another Conduit process"
                ) from None
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            log.error(
                "publish buffer %s is unreadable (%s); moved aside to %s", self.path, exc, aside
            )
            for suffix in ("", "-wal", "-shm"):
                source = Path(f"{self.path}{suffix}")
                if source.exists():
                    source.rename(f"{aside}{suffix}")
            try:
                return self._connect()
            except sqlite3.Error as again:
                raise SpoolError(f"publish buffer {self.path}: {again}") from None

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=2.0, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA locking_mode=EXCLUSIVE")
            db.execute("PRAGMA auto_vacuum=INCREMENTAL")  # effective for a new file only
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise sqlite3.DatabaseError(f"cannot use WAL mode (got {mode})")
            db.executescript(_SCHEMA)
            db.execute("BEGIN IMMEDIATE")  # takes the exclusive lock now
            db.execute("COMMIT")
        except BaseException:
            db.close()
            raise
        return db

    # ---- the store (any thread) --------------------------------------------------------------

    @property
    def last_seq(self) -> int:
        """The highest sequence number ever appended (0 for a new buffer)."""
        return self._last_seq

    @property
    def dropped(self) -> int:
        """Messages dropped because the buffer was full, over the life of the file."""
        return self._dropped

    @property
    def overflow(self) -> bool:
        """True from the first drop until the buffer next drains."""
        return self._overflow

    def depth(self) -> int:
        """Messages on disk, waiting to be sent."""
        return self._depth

    def pending(self) -> int:
        """Submitted jobs not on disk yet (in the in-memory queue or being written)."""
        return len(self._jobs) + (1 if self._busy else 0)

    def append(self, messages: Sequence[Message]) -> int:
        """Append messages (increasing seqs above `last_seq`) in one transaction; returns drops."""
        if not messages:
            return 0
        previous = self._last_seq
        for message in messages:
            if message.seq <= previous:
                raise ValueError(f"seq {message.seq} does not follow {previous}")
            previous = message.seq
        rows = [(m.seq, m.topic, m.payload, m.qos, int(m.retain), m.size) for m in messages]
        with self._db_lock:
            db = self._live()
            db.execute("PRAGMA synchronous=FULL")
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("INSERT INTO message VALUES (?, ?, ?, ?, ?, ?)", rows)
                depth = self._depth + len(rows)
                size = self._bytes + sum(row[5] for row in rows)
                cut, freed = self._trim(db, depth, size)
                overflow = int(self._overflow or cut > 0)
                dropped = self._dropped + cut
                self._put_meta(db, last_seq=previous, dropped=dropped, overflow=overflow)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._depth, self._bytes, self._last_seq = depth - cut, size - freed, previous
            if cut:
                self._lost(cut, "the buffer is full")
        return cut

    def _trim(self, db: sqlite3.Connection, depth: int, size: int) -> tuple[int, int]:
        """Delete the oldest messages until the bound holds (the newest stays); (count, bytes)."""
        count = freed = cut_seq = 0
        while size - freed > self.max_bytes and count < depth - 1:
            rows = db.execute(
                "SELECT seq, size FROM message WHERE seq > ? ORDER BY seq LIMIT 1000", (cut_seq,)
            ).fetchall()
            for seq, row_size in rows:
                if size - freed <= self.max_bytes or count == depth - 1:
                    break
                count, freed, cut_seq = count + 1, freed + row_size, seq
        if count:
            db.execute("DELETE FROM message WHERE seq <= ?", (cut_seq,))
        return count, freed

    def peek(self, n: int, after: int = 0) -> list[Message]:
        """Up to `n` messages with seq above `after`, oldest first."""
        with self._db_lock:
            rows = (
                self._live()
                .execute(
                    "SELECT seq, topic, payload, qos, retain FROM message WHERE seq > ? "
                    "ORDER BY seq LIMIT ?",
                    (after, n),
                )
                .fetchall()
            )
        return [
            Message(seq, topic, bytes(payload), qos, bool(retain))
            for seq, topic, payload, qos, retain in rows
        ]

    def ack(self, seq: int) -> int:
        """Delete one acknowledged message; returns 1, or 0 when it is not (any longer) there."""
        return self._delete("DELETE FROM message WHERE seq = ? RETURNING size", seq)

    def ack_through(self, seq: int) -> int:
        """Delete every message up to and including `seq`; returns how many."""
        return self._delete("DELETE FROM message WHERE seq <= ? RETURNING size", seq)

    def _delete(self, sql: str, seq: int) -> int:
        with self._db_lock:
            db = self._live()
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("BEGIN IMMEDIATE")
            try:
                sizes = [row[0] for row in db.execute(sql, (seq,))]
                drained = bool(sizes) and self._depth == len(sizes)
                ended = drained and self._overflow and not self._jobs
                if ended:
                    self._put_meta(db, overflow=0)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._depth -= len(sizes)
            self._bytes -= sum(sizes)
            if ended:
                with self._stats:
                    lost, self._overflow = self._dropped - self._episode_start, False
                log.info(
                    "%s: publish buffer drained after an overflow; %d messages were dropped",
                    self.label,
                    lost,
                )
            if drained and db.execute("PRAGMA freelist_count").fetchone()[0] > _VACUUM_PAGES // 4:
                db.execute(f"PRAGMA incremental_vacuum({_VACUUM_PAGES})").fetchall()
        return len(sizes)

    def meta(self, key: str, default: int = 0) -> int:
        """An integer kept in the file (sequence, counters, and the owner's own keys)."""
        with self._db_lock:
            row = self._live().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else default

    def set_meta(self, key: str, value: int) -> None:
        """Store an integer in the file, durably."""
        with self._db_lock:
            db = self._live()
            db.execute("PRAGMA synchronous=FULL")
            self._put_meta(db, **{key: value})

    @staticmethod
    def _put_meta(db: sqlite3.Connection, **values: int) -> None:
        db.executemany(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            list(values.items()),
        )

    def backup_into(self, target: sqlite3.Connection) -> None:
        """Copy the buffer into `target` (SQLite online backup) while it stays in use.

        Only this connection can read the file (it is held exclusively), so backups of a
        running station go through here.
        """
        with self._db_lock:
            self._live().backup(target)

    def _live(self) -> sqlite3.Connection:
        if self._closed:
            raise SpoolError(f"publish buffer {self.path} is closed")
        return self._db

    def _lost(self, count: int, why: str) -> None:
        """Count dropped messages; the first drop of an episode raises `overflow` and is logged."""
        with self._stats:
            starting = not self._overflow
            if starting:
                self._episode_start = self._dropped
            self._dropped += count
            self._overflow = True
        if starting:
            log.warning(
                "%s: publish buffer overflow: dropping the oldest messages (%s; limit %d bytes); "
                "logged once until the buffer drains",
                self.label,
                why,
                self.max_bytes,
            )

    # ---- the writer thread -------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread that drains submitted work to disk."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"conduit-spool-{self.label}", daemon=True
            )
            self._thread.start()

    def submit(self, render: Render, weight: int = 1) -> None:
        """Queue work for the writer thread; never blocks.

        When the queued weight would exceed `queue_limit` (the disk cannot keep up), the oldest
        queued jobs are discarded, each counted as one dropped message, and overflow is raised.
        """
        lost = 0
        with self._cond:
            if self._closing:
                raise SpoolError(f"publish buffer {self.path} is closing")
            self._jobs.append((render, weight))
            self._queued += weight
            while self._queued > self.queue_limit and len(self._jobs) > 1:
                _, old = self._jobs.popleft()
                self._queued -= old
                lost += 1
            self._cond.notify()
        if lost:
            self._lost(lost, "the disk does not keep up; in-memory queue full")

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every submitted job is on disk; False after `timeout` seconds."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._jobs and not self._busy, timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, stop the writer thread and close the file."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.error("%s: the buffer writer did not finish within %.0f s", self.label, timeout)
                return
        else:
            self._write_jobs()
        with self._db_lock:
            if not self._closed:
                self._closed = True
                try:
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
                finally:
                    self._db.close()

    def _run(self) -> None:
        while self._write_jobs():
            pass

    def _write_jobs(self) -> bool:
        """Render and append everything queued in one transaction; False once closing and idle."""
        with self._cond:
            while not self._jobs and not self._closing:
                self._cond.wait()
            if not self._jobs:
                return False
            jobs = list(self._jobs)
            self._jobs.clear()
            self._queued = 0
            self._busy = True
        try:
            seqs = itertools.count(self._last_seq + 1)
            messages: list[Message] = []
            for render, _weight in jobs:
                try:
                    messages.extend(render(seqs))
                except Exception:
                    log.exception("%s: could not build a message; it is skipped", self.label)
            try:
                self.append(messages)
            except (sqlite3.Error, SpoolError, ValueError) as exc:
                log.error("%s: cannot write to the publish buffer: %s", self.label, exc)
                self._lost(len(messages), f"write failed: {exc}")
                return True
            callback = self.on_append
            if callback is not None and messages:
                try:
                    callback(messages[-1].seq)
                except Exception:
                    log.exception("%s: on_append failed", self.label)
            return True
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def bytes(self) -> int:
        """Bytes of the messages on disk, as counted against `max_bytes` (topic + payload)."""
        return self._bytes

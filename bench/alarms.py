"""Alarm evaluation: 50,000 alarmed tags changing every second through the alarm engine.

Each tag has one hi alarm (deadband, no delay); every second all 50,000 change (one in 100
crosses its limit either way), handed over in batches of 1,000 as the runtime hands over a
scan block's changes; then the engine's one-second tick. Printed: evaluations/s, the share of
one core per second of plant time, and the time from a batch being handed over to its alarms
being visible to a client.
"""

from __future__ import annotations

import time

from hmi.alarm_config import AlarmDef
from hmi.alarms.engine import AlarmEngine
from hmi.alarms.model import AlarmKind
from hmi.tags import Quality, Value


def evaluations(tags: int = 50_000, seconds: int = 10, chunk: int = 1_000) -> None:
    """Evaluations/s for `tags` alarmed tags at 1 s, and batch-to-visible latency."""
    names = [f"A{i // 1000}.T{i}" for i in range(tags)]
    defs = {
        f"{n}.hi": AlarmDef(f"{n}.hi", n, AlarmKind.HI, limit=100.0, deadband=1.0, area=n[:3])
        for n in names
    }
    values: dict[str, Value] = {}
    clock = [1_000_000.0]
    engine = AlarmEngine(
        defs, None, lambda n: values.get(n, Value.initial()), clock=lambda: clock[0]
    )
    batches = []
    for s in range(seconds):
        batch = []
        for i, n in enumerate(names):
            hot = (i + s) % 100 == 0  # one tag in a hundred above its limit this second
            batch.append((n, Value(105.0 if hot else 50.0 + s, Quality.GOOD, recv_ts=clock[0] + s)))
        batches.append(batch)
    busy = 0.0
    worst = 0.0
    for s, batch in enumerate(batches):
        clock[0] += 1.0
        t = time.perf_counter()
        changed = 0
        for k in range(0, len(batch), chunk):  # the runtime hands changes over per scan block
            version = engine.version
            t_chunk = time.perf_counter()
            engine.on_changes(batch[k : k + chunk])
            _, seen = engine.changes_since(version)  # what a client pulls next
            worst = max(worst, time.perf_counter() - t_chunk)
            changed += len(seen)
        engine.tick()
        busy += time.perf_counter() - t
        assert s == 0 or changed, "alarms changed"
    per_second = busy / seconds
    print(f"  {tags:,} hi alarms, all tags changing every second, {seconds} s")
    print(f"  evaluations: {engine.evaluations / busy:,.0f}/s")
    print(
        f"  CPU per second of plant time: {per_second * 1000:.0f} ms = {per_second * 100:.0f} % "
        f"of one core (goal < 25 %: {0.25 / per_second:.1f}x)"
    )
    print(
        f"  a batch of {chunk:,} changes handed over -> its alarms visible to a client: "
        f"{worst * 1000:.1f} ms worst (goal < 100 ms + the scan)"
    )


def flood(alarms: int = 5_000) -> None:
    """5,000 alarms activating at once through the engine into a SQLite (and PostgreSQL) journal."""
    import tempfile
    from pathlib import Path

    from hmi.alarms.journal import Journal
    from hmi.alarms.response import ResponseLog
    from hmi.db import create_all, open_database

    urls: list[tuple[str, str | None]] = [("SQLite (WAL, synchronous=FULL)", None)]
    postgres = _postgres_url()
    if postgres:
        urls.append(("PostgreSQL on 127.0.0.1", postgres))
    for label, url in urls:
        database = open_database(url, Path(tempfile.mkdtemp(prefix="conduit-bench-flood-")))
        create_all(database)
        responses = ResponseLog(database)
        journal = Journal(database, also=[responses.apply_in])
        names = [f"F{i % 50}.T{i}" for i in range(alarms)]
        defs = {
            f"{n}.hi": AlarmDef(f"{n}.hi", n, AlarmKind.HI, limit=100.0, area=n[:3]) for n in names
        }
        engine = AlarmEngine(defs, journal, lambda n: Value.initial(), clock=time.time)
        batch = [(n, Value(105.0, Quality.GOOD, recv_ts=time.time())) for n in names]
        t = time.perf_counter()
        for k in range(0, alarms, 100):
            engine.on_changes(batch[k : k + 100])
        handed = time.perf_counter() - t
        assert journal.flush(120)
        written = time.perf_counter() - t
        journal.close()
        opened = len(responses.responses())
        database.dispose()
        if url is not None:
            _drop_postgres(url)
        print(
            f"  {label}: {alarms:,} activations evaluated and queued in {handed * 1000:.0f} ms, "
            f"journaled in {written * 1000:.0f} ms ({alarms / written:,.0f}/s), "
            f"{opened:,} response records; peak queue {journal.peak_queue:,}"
        )


def _postgres_url() -> str | None:
    """A fresh database on a PostgreSQL server at 127.0.0.1:5432 (trust auth), else None."""
    import os
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            pass
    except OSError:
        return None
    try:
        import psycopg
    except ImportError:
        return None
    name = f"conduit_bench_{os.getpid()}"
    try:
        with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(f"DROP DATABASE IF EXISTS {name}")
            c.execute(f"CREATE DATABASE {name}")
    except psycopg.Error:
        return None
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def _drop_postgres(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name}")

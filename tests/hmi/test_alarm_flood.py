"""An alarm flood through the engine into a real journal: nothing lost, memory bounded."""

from __future__ import annotations

import threading
import tracemalloc
from pathlib import Path

from hmi.alarm_config import AlarmDef
from hmi.alarms.engine import AlarmEngine
from hmi.alarms.journal import Journal, query_journal
from hmi.alarms.kpi import floods
from hmi.alarms.model import AlarmKind, Event
from hmi.db import create_all, open_database
from hmi.tags import Quality, Value

ALARMS = 5_000
T0 = 1_790_000_000.0


def test_5000_alarms_in_one_minute_are_all_journaled_with_memory_bounded(tmp_path: Path) -> None:
    database = open_database(None, tmp_path)
    create_all(database)
    journal = Journal(database, max_queue=1_000, batch_size=250)
    names = [f"A{i % 50}.T{i}" for i in range(ALARMS)]
    defs = {
        f"{n}.hi": AlarmDef(f"{n}.hi", n, AlarmKind.HI, limit=100.0, area=n.split(".")[0])
        for n in names
    }
    now = [T0]
    values: dict[str, Value] = {}
    engine = AlarmEngine(
        defs, journal, lambda n: values.get(n, Value.initial()), clock=lambda: now[0]
    )
    # a client pulling what changed while the flood goes on, as the panel does
    pulls: list[int] = []
    stop = threading.Event()

    def panel() -> None:
        version, done = 0, False
        while not done:
            done = stop.wait(0.005)  # one last pull after the flood
            version, changed = engine.changes_since(version)
            pulls.append(len(changed))

    reader = threading.Thread(target=panel, name="conduit-test-panel")
    reader.start()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    per_second = -(-ALARMS // 60)
    for second in range(60):
        now[0] = T0 + second
        batch = []
        for name in names[second * per_second : (second + 1) * per_second]:
            value = Value(105.0, Quality.GOOD, recv_ts=now[0])
            values[name] = value
            batch.append((name, value))
        for k in range(0, len(batch), 20):  # the runtime hands changes over per scan block
            engine.on_changes(batch[k : k + 20])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    stop.set()
    reader.join(10)
    assert journal.flush(60)
    journal.close()
    rows = query_journal(database, events=[Event.ACTIVATE], limit=2 * ALARMS)
    assert len(rows) == ALARMS
    assert {r.alarm for r in rows} == set(defs)
    assert len(engine.active()) == ALARMS
    # memory: the journal's queue never held more than its bound, and the flood itself (5,000
    # transitions through engine and queue) cost a bounded amount beyond the alarms themselves
    assert journal.peak_queue <= journal.max_queue
    assert peak - base < 20 * 1024 * 1024, f"{(peak - base) / 1e6:.1f} MB"
    assert sum(pulls) == ALARMS and len(pulls) > 1, "the panel saw the alarms while they came"
    # the KPI sees one flood covering the minute
    report = floods(rows, T0, T0 + 600)
    assert len(report.periods) == 1 and report.periods[0][0] <= T0 + 1
    database.dispose()

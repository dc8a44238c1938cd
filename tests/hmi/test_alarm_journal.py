"""The alarm journal and the response workflow on real databases: SQLite files, and PostgreSQL
(the session's throwaway cluster, `postgres_url` in tests/hmi/conftest.py)."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from hmi.alarms.journal import Journal, JournalClosed, alarm_journal, query_journal
from hmi.alarms.model import AlarmState, Event, Priority, Transition
from hmi.alarms.response import AlarmResponse, ResponseError, ResponseLog
from hmi.db import SQLITE_NAME, create_all, open_database
from tests.conftest import wait_until

T0 = 1_800_000_000.0


# ---- databases ---------------------------------------------------------------------------------


@pytest.fixture
def engine(database: Engine) -> Engine:
    """The shared `database` fixture (SQLite, PostgreSQL; empty tables) by this file's name."""
    return database


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(alarm_journal)).scalar_one())


@pytest.fixture
def journal(engine: Engine) -> Iterator[Journal]:
    """A journal with quick retries, closed after the test."""
    j = Journal(engine, retry_delay=0.02, retry_max=0.1)
    yield j
    j.close()


def t(
    ts: float,
    alarm: str = "HS1.TT101.hi",
    event: Event = Event.ACTIVATE,
    state: AlarmState = AlarmState.UNACK,
    priority: Priority = Priority.HIGH,
    area: str = "HS1",
    tag: str = "HS1.TT101",
    **kw: object,
) -> Transition:
    """A transition with defaults for the fields a test does not care about."""
    return Transition(T0 + ts, alarm, event, state, priority, area, tag, **kw)  # type: ignore[arg-type]


# ---- the store ---------------------------------------------------------------------------------


def test_open_database_defaults_to_sqlite_in_wal_mode(tmp_path: Path) -> None:
    eng = open_database(None, tmp_path / "data", busy_timeout=2.5)
    try:
        with eng.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert conn.execute(text("PRAGMA busy_timeout")).scalar_one() == 2500
            assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
        create_all(eng)
        assert (tmp_path / "data" / SQLITE_NAME).is_file()
    finally:
        eng.dispose()


# ---- recording and querying --------------------------------------------------------------------


def test_round_trip_keeps_every_field(journal: Journal) -> None:
    full = t(
        1.25,
        "GAS.PT301.lolo",
        Event.ACK,
        AlarmState.ACKED,
        Priority.URGENT,
        "GAS",
        "GAS.PT301",
        value=-0.125,
        limit=0.5,
        user="王工",
        comment="阀门已检查 / valve checked",
        host="seat-2",
    )
    bare = t(2.5, event=Event.CLEAR, state=AlarmState.RTN_UNACK, priority=Priority.LOW)
    journal.record([full, bare])
    assert journal.flush(10)
    assert journal.query() == [full, bare]
    assert journal.query()[1].value is None and journal.query()[1].limit is None


def test_queries_filter_and_order(journal: Journal) -> None:
    rows = [
        t(30, "HS1.TT101.hi", priority=Priority.LOW),
        t(10, "GAS.PT1.lo", area="GAS", tag="GAS.PT1", priority=Priority.URGENT),
        t(20, "HS1.FT2.hi", tag="HS1.FT2", priority=Priority.MEDIUM),
        t(20, "HS1.FT2.hi", Event.ACK, AlarmState.ACKED, tag="HS1.FT2", priority=Priority.MEDIUM),
        t(40, "GAS.PT1.lo", Event.CLEAR, AlarmState.NORMAL, Priority.URGENT, "GAS", "GAS.PT1"),
        t(50, "HS2.TT5.hi", area="HS2", tag="HS2.TT5", priority=Priority.HIGH),
    ]
    journal.record(rows)
    assert journal.flush(10)
    by_time = sorted(rows, key=lambda r: r.ts)  # stable: the two at 20 keep their order
    assert journal.query() == by_time
    assert journal.query(T0 + 20, T0 + 40) == by_time[1:4]  # start inclusive, end exclusive
    assert journal.query(start=T0 + 40) == by_time[4:]
    assert journal.query(end=T0 + 20) == by_time[:1]
    assert journal.query(priority=Priority.HIGH) == [
        r for r in by_time if r.priority >= Priority.HIGH
    ]
    assert journal.query(areas=["GAS", "HS2"]) == [r for r in by_time if r.area != "HS1"]
    assert journal.query(tags=["HS1.FT2"]) == by_time[1:3]
    assert journal.query(states=[AlarmState.ACKED, AlarmState.NORMAL]) == [by_time[2], by_time[4]]
    assert journal.query(events=[Event.CLEAR]) == [by_time[4]]
    assert journal.query(alarm="GAS.PT1.lo") == [by_time[0], by_time[4]]
    assert journal.query(limit=2) == by_time[:2]
    assert journal.query(areas=["HS1"], priority=Priority.MEDIUM) == by_time[1:3]
    assert journal.query(areas=[]) == []
    assert query_journal(journal.engine, alarm="nope") == []


def test_flood_of_5000_in_one_minute_loses_nothing_and_stays_bounded(engine: Engine) -> None:
    producers, per_producer, per_call = 5, 1000, 10
    journal = Journal(engine, max_queue=500, batch_size=250, retry_delay=0.02, retry_max=0.1)
    step = 60.0 / (producers * per_producer)  # 5,000 activations spread over one minute

    def produce(p: int) -> None:
        for i in range(0, per_producer, per_call):
            journal.record(
                [
                    t((k * producers + p) * step, f"A{p}.{k}", area=f"AREA{p}", tag=f"T{p}.{k}")
                    for k in range(i, i + per_call)
                ]
            )

    threads = [
        threading.Thread(target=produce, args=(p,), name=f"conduit-test-producer-{p}")
        for p in range(producers)
    ]
    began = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    recorded = time.perf_counter() - began
    assert journal.flush(60)
    written = time.perf_counter() - began
    journal.close()
    total = producers * per_producer
    got = query_journal(engine, limit=2 * total)
    assert len(got) == total
    assert {(r.alarm, r.ts) for r in got} == {
        (f"A{p}.{k}", T0 + (k * producers + p) * step)
        for p in range(producers)
        for k in range(per_producer)
    }
    assert [r.ts for r in got] == sorted(r.ts for r in got)
    assert 0 < journal.peak_queue <= journal.max_queue
    assert journal.written == total and journal.errors == 0
    print(
        f"\n{engine.dialect.name}: 5,000 recorded in {recorded * 1000:.0f} ms, written in "
        f"{written * 1000:.0f} ms; peak queue {journal.peak_queue} of {journal.max_queue}; "
        f"record calls that waited {journal.waits}"
    )


class _Lock:
    """Another connection holding the journal's table locked until released."""

    def __init__(self, engine: Engine) -> None:
        self._release = threading.Event()
        if engine.dialect.name == "sqlite":
            self._sqlite = sqlite3.connect(engine.url.database or "", isolation_level=None)
            self._sqlite.execute("BEGIN EXCLUSIVE")  # in WAL mode: no other writer
        else:
            self._conn = engine.connect()
            self._conn.execute(text("LOCK TABLE alarm_journal IN ACCESS EXCLUSIVE MODE"))
        self.dialect = engine.dialect.name

    def release(self) -> None:
        if self.dialect == "sqlite":
            self._sqlite.execute("COMMIT")
            self._sqlite.close()
        else:
            self._conn.commit()
            self._conn.close()


def test_back_pressure_while_the_database_is_locked(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "hmi.alarms.journal")
    journal = Journal(engine, max_queue=100, batch_size=40, retry_delay=0.02, retry_max=0.1)
    lock = _Lock(engine)
    total = 1000
    done = threading.Event()

    def produce() -> None:
        for i in range(0, total, 10):
            journal.record([t(i + k, f"B{i + k}") for k in range(10)])
        done.set()

    producer = threading.Thread(target=produce, name="conduit-test-producer")
    producer.start()
    try:
        wait_until(lambda: journal.waits >= 1, 10, "record() to wait for room")
        if engine.dialect.name == "sqlite":  # SQLite's busy timeout expires: the batch is retried
            wait_until(lambda: journal.errors >= 2, 10, "failed attempts")
        assert not done.is_set() and producer.is_alive()
        assert journal.queued() <= journal.max_queue + journal.batch_size
        if engine.dialect.name == "sqlite":  # (PostgreSQL's lock blocks reading too)
            assert _count(engine) == 0
    finally:
        lock.release()
    producer.join(30)
    assert done.is_set()
    assert journal.flush(30)
    journal.close()
    assert _count(engine) == total
    assert sorted(r.alarm for r in query_journal(engine, limit=5000)) == sorted(
        f"B{i}" for i in range(total)
    )
    assert journal.peak_queue <= journal.max_queue
    waits = [r for r in caplog.records if "recording waits" in r.getMessage()]
    assert len(waits) == 1 and waits[0].levelno == logging.WARNING
    failures = [r for r in caplog.records if "cannot write" in r.getMessage()]
    assert len(failures) == (1 if engine.dialect.name == "sqlite" else 0)


def test_a_write_failure_keeps_the_batch_retries_and_logs_once(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "hmi.alarms.journal")
    alarm_journal.drop(engine)  # the database "gone": every insert fails
    journal = Journal(engine, retry_delay=0.01, retry_max=0.05)
    try:
        journal.record([t(i, f"C{i}") for i in range(50)])
        wait_until(lambda: journal.errors >= 4, 10, "several failed attempts")
        assert not journal.online
        assert journal.queued() == 50
        assert not journal.flush(0.05)
        alarm_journal.create(engine)
        assert journal.flush(10)
        assert journal.online
    finally:
        journal.close()
    assert sorted(r.alarm for r in query_journal(engine)) == sorted(f"C{i}" for i in range(50))
    messages = [r.getMessage() for r in caplog.records]
    assert sum("cannot write" in m for m in messages) == 1
    assert sum("written again" in m for m in messages) == 1


def test_close_writes_what_is_queued_then_refuses(engine: Engine) -> None:
    journal = Journal(engine)
    journal.record([t(i, f"D{i}") for i in range(20)])
    journal.close()
    journal.close()  # a second close does nothing
    assert _count(engine) == 20
    with pytest.raises(JournalClosed):
        journal.record([t(99)])


def test_close_gives_up_after_its_timeout_and_says_so(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    alarm_journal.drop(engine)
    journal = Journal(engine, retry_delay=0.01, retry_max=0.05)
    journal.record([t(i, f"E{i}") for i in range(5)])
    wait_until(lambda: journal.errors >= 1, 10, "a failed attempt")
    began = time.monotonic()
    journal.close(timeout=0.3)
    assert time.monotonic() - began < 5
    assert any("5 transitions not written" in r.getMessage() for r in caplog.records)


# ---- the response workflow ---------------------------------------------------------------------


@pytest.fixture
def responses(engine: Engine) -> ResponseLog:
    """A response log with a small cause catalogue."""
    log = ResponseLog(engine)
    log.add_cause("SENSOR", "Sensor fault", "传感器故障")
    log.add_cause("PROCESS", "Real process upset", "工艺异常")
    log.add_cause("OLD", "Retired cause", "旧原因")
    log.disable_cause("OLD")
    return log


def test_cause_catalogue_is_editable(responses: ResponseLog) -> None:
    assert [c.code for c in responses.causes()] == ["PROCESS", "SENSOR"]
    assert [c.code for c in responses.causes(include_inactive=True)] == ["OLD", "PROCESS", "SENSOR"]
    responses.edit_cause("SENSOR", text_zh="传感器或变送器故障")
    assert responses.causes()[1].text_zh == "传感器或变送器故障"
    assert responses.causes()[1].text_en == "Sensor fault"
    responses.enable_cause("OLD")
    assert len(responses.causes()) == 3
    with pytest.raises(ResponseError, match="exists already"):
        responses.add_cause("SENSOR", "again", "")
    with pytest.raises(ResponseError, match="no cause 'NOPE'"):
        responses.disable_cause("NOPE")


def test_workflow_ack_dispatch_cause_close(responses: ResponseLog) -> None:
    responses.apply(
        [
            t(0, "HS1.TT101.hi"),
            t(5, "GAS.PT1.lo", area="GAS", tag="GAS.PT1"),
            t(12, "HS1.TT101.hi", Event.ACK, AlarmState.ACKED, user="li"),
        ]
    )
    responses.apply([t(0, "HS1.TT101.hi")])  # the same occurrence again: no second record
    rows = responses.responses()
    assert [(r.alarm, r.activated_ts, r.acked_ts, r.acked_by) for r in rows] == [
        ("HS1.TT101.hi", T0, T0 + 12, "li"),
        ("GAS.PT1.lo", T0 + 5, None, None),
    ]
    hs1, gas = rows[0].id, rows[1].id
    with pytest.raises(ResponseError, match="acknowledge the alarm before dispatching"):
        responses.dispatch(gas, T0 + 20, "wang", "li")
    with pytest.raises(ResponseError, match="who is sent"):
        responses.dispatch(hs1, T0 + 20, " ", "li")
    with pytest.raises(ResponseError, match="before the acknowledgement"):
        responses.dispatch(hs1, T0 + 11, "wang", "li")
    responses.dispatch(hs1, T0 + 60, "wang", "li")
    with pytest.raises(ResponseError, match="record a cause before closing"):
        responses.close(hs1, T0 + 70, "li")
    with pytest.raises(ResponseError, match="no cause 'NOPE'"):
        responses.record_cause(hs1, "NOPE", T0 + 300, "wang")
    with pytest.raises(ResponseError, match="'OLD' is disabled"):
        responses.record_cause(hs1, "OLD", T0 + 300, "wang")
    responses.record_cause(hs1, "SENSOR", T0 + 300, "wang", note="drifting transmitter")
    responses.close(hs1, T0 + 900, "li")
    assert responses.get(hs1) == AlarmResponse(
        id=hs1,
        alarm="HS1.TT101.hi",
        activated_ts=T0,
        acked_ts=T0 + 12,
        acked_by="li",
        dispatched_ts=T0 + 60,
        dispatched_to="wang",
        dispatched_by="li",
        cause="SENSOR",
        cause_ts=T0 + 300,
        cause_by="wang",
        closed_ts=T0 + 900,
        closed_by="li",
        note="drifting transmitter",
    )
    with pytest.raises(ResponseError, match="was closed by li"):
        responses.record_cause(hs1, "PROCESS", T0 + 1000, "li")
    assert [r.alarm for r in responses.responses(open_only=True)] == ["GAS.PT1.lo"]
    responses.acknowledge(gas, T0 + 30, "zhao")
    with pytest.raises(ResponseError, match="already acknowledged by zhao"):
        responses.acknowledge(gas, T0 + 31, "li")
    assert responses.responses(T0 + 1, T0 + 10)[0].acked_by == "zhao"
    with pytest.raises(ResponseError, match="no alarm response record 999"):
        responses.get(999)


def test_records_that_follow_the_journal_never_hold_it_up(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    kept: list[str] = []

    def fails(conn: object, batch: list[Transition]) -> None:
        raise RuntimeError("response table gone")

    def keeps(conn: object, batch: list[Transition]) -> None:
        kept.extend(x.alarm for x in batch)

    journal = Journal(engine, also=[fails, keeps])
    journal.record([t(1.0, "A1"), t(2.0, "A2")])
    assert journal.flush(10)
    journal.record([t(3.0, "A3")])
    assert journal.flush(10)
    journal.close()
    assert _count(engine) == 3, "the journal is written whatever follows it"
    assert kept == ["A1", "A2", "A3"]
    assert journal.also_errors == 2
    assert [r.message for r in caplog.records].count(
        "alarm journal: records that follow it not kept: RuntimeError: response table gone"
    ) == 1


def test_occurrences_opened_twice_stay_one_record(engine: Engine) -> None:
    log = ResponseLog(engine)
    first = [t(1.0, "A1"), t(2.0, "A2")]
    log.apply(first)
    log.apply([*first, t(3.0, "A3"), t(4.0, "A1", Event.ACK, AlarmState.ACKED, user="li")])
    records = {(r.alarm, r.activated_ts): r for r in log.responses()}
    assert sorted(records) == [("A1", T0 + 1.0), ("A2", T0 + 2.0), ("A3", T0 + 3.0)]
    assert records[("A1", T0 + 1.0)].acked_by == "li"

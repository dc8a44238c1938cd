"""DiagnosticsService: findings as system tag values, link outages and data quality recorded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from hmi.db import create_all, open_database
from hmi.diagnostics.records import data_accuracy, link_outages, month_of
from hmi.diagnostics.service import DiagnosticsService
from hmi.diagnostics_config import (
    DiagnosticsSettings,
    LeakSegment,
    PlausibilityRule,
    SignalCheck,
)
from hmi.tags import Quality, Reason, TagDef, Value

T0 = 1_790_000_000.0


class Plant:
    """Tag values and a clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = T0
        self.values: dict[str, Value] = {}

    def set(self, name: str, value: object, quality: Quality = Quality.GOOD, **kw: object) -> Value:
        v = Value(value, quality, kw.get("reason", Reason.NONE), self.now, self.now)  # type: ignore[arg-type]
        self.values[name] = v
        return v

    def read(self, name: str) -> Value:
        return self.values.get(name, Value.initial())

    def clock(self) -> float:
        return self.now


def service(
    plant: Plant, settings: DiagnosticsSettings, devices: tuple[str, ...] = ()
) -> DiagnosticsService:
    tags = {n: TagDef(n, unit="kg/s") for n in ("A", "B", "C", "IN", "OUT1", "OUT2", "MID", "P")}
    return DiagnosticsService(settings, tags, plant.read, devices=devices, clock=plant.clock)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    db = open_database(None, tmp_path)
    create_all(db)
    yield db
    db.dispose()


def run(plant: Plant, svc: DiagnosticsService, seconds: int) -> dict[str, object]:
    out: dict[str, object] = {}
    for _ in range(seconds):
        plant.now += 1.0
        out = svc.evaluate()
    return out


def test_frozen_after_its_time_only_while_running_and_movement_resets() -> None:
    plant = Plant()
    svc = service(
        plant,
        DiagnosticsSettings(
            signals={"A": SignalCheck("A", frozen_after=30.0, noise=0.1, running="B")}
        ),
    )
    names = {t.name for t in svc.tag_defs()}
    assert {"_quality.A.frozen", "_quality.A.spike", "_quality.A.range"} <= names
    plant.set("A", 50.0)
    plant.set("B", True)
    assert run(plant, svc, 29)["_quality.A.frozen"] is False
    assert run(plant, svc, 2)["_quality.A.frozen"] is True
    plant.set("A", 50.05)  # within the noise: still frozen
    assert run(plant, svc, 1)["_quality.A.frozen"] is True
    plant.set("A", 50.3)
    assert run(plant, svc, 1)["_quality.A.frozen"] is False
    plant.set("B", False)  # the plant stops: not judged
    assert run(plant, svc, 100)["_quality.A.frozen"] is False
    plant.set("B", True)
    assert run(plant, svc, 25)["_quality.A.frozen"] is False
    assert run(plant, svc, 10)["_quality.A.frozen"] is True


def test_a_spike_raises_its_finding_for_the_hold_time_and_a_step_does_not() -> None:
    plant = Plant()
    svc = service(
        plant,
        DiagnosticsSettings(signals={"A": SignalCheck("A", spike_rate=1.0, spike_hold=60.0)}),
    )
    for value in (10.0, 10.1, 10.0):
        plant.now += 1.0
        svc.on_changes([("A", plant.set("A", value))])
    assert svc.evaluate()["_quality.A.spike"] is False
    for value in (30.0, 10.05):  # up 20 in 1 s and back: a spike
        plant.now += 1.0
        svc.on_changes([("A", plant.set("A", value))])
    assert svc.evaluate()["_quality.A.spike"] is True
    assert run(plant, svc, 59)["_quality.A.spike"] is True
    assert run(plant, svc, 2)["_quality.A.spike"] is False
    for value in (30.0, 30.1, 30.0):  # a step that stays
        plant.now += 5.0
        svc.on_changes([("A", plant.set("A", value))])
    assert svc.evaluate()["_quality.A.spike"] is False


def test_out_of_range_and_plausibility_rules() -> None:
    plant = Plant()
    svc = service(
        plant,
        DiagnosticsSettings(
            signals={"A": SignalCheck("A", range=True)},
            rules={"supply": PlausibilityRule("supply", "A >= C", on_delay=0.0)},
        ),
    )
    plant.set("A", 80.0)
    plant.set("C", 50.0)
    out = run(plant, svc, 1)
    assert out["_quality.A.range"] is False and out["_check.supply.failed"] is False
    plant.set("A", 180.0, Quality.BAD, reason=Reason.OUT_OF_RANGE)
    plant.set("C", 60.0)
    out = run(plant, svc, 1)
    # out of range is a finding; a rule over a bad input is not judged (bad quality speaks)
    assert out["_quality.A.range"] is True and out["_check.supply.failed"] is False
    plant.set("A", 40.0)
    out = run(plant, svc, 1)
    assert out["_quality.A.range"] is False and out["_check.supply.failed"] is True


def test_a_leak_is_reported_on_its_segment_only_with_its_rate() -> None:
    plant = Plant()
    n1 = LeakSegment(
        "N1", ("IN",), ("OUT1", "MID"), window=60.0, min_duration=20.0, pressure=("P",)
    )
    n2 = LeakSegment("N2", ("MID",), ("OUT2",), window=60.0, min_duration=20.0)
    svc = service(plant, DiagnosticsSettings(segments={"N1": n1, "N2": n2}))
    flows = {"IN": 30.0, "OUT1": 10.0, "MID": 20.0, "OUT2": 20.0}
    for name, v in flows.items():
        plant.set(name, v)
    plant.set("P", 6.0)
    out = run(plant, svc, 120)
    assert out["_leak.N1.rate"] == 0.0 and out["_leak.N2.rate"] == 0.0
    assert out["_leak.N1.imbalance"] == pytest.approx(0.0)
    plant.set("OUT2", 17.0)  # 3 kg/s lost between MID and OUT2
    out = run(plant, svc, 30)
    assert out["_leak.N2.rate"] == 0.0  # the mean has not moved far enough or not for long
    out = run(plant, svc, 60)
    assert out["_leak.N2.rate"] == pytest.approx(3.0, abs=0.01)
    assert out["_leak.N2.confidence"] == "medium"
    assert out["_leak.N1.rate"] == 0.0
    assert out["_leak.N2.threshold"] == pytest.approx(2 * ((0.2**2 + 0.17**2) ** 0.5), rel=1e-6)


def test_link_outages_are_recorded_with_count_and_minutes(engine: Engine) -> None:
    plant = Plant()
    svc = service(plant, DiagnosticsSettings(), devices=("PLC1", "PLC2"))
    svc.start(engine, period=3600)
    online = "_diag.PLC1.online"
    svc.on_changes([(online, plant.set(online, True))])
    plant.now += 60
    svc.on_changes([(online, plant.set(online, False))])
    svc.on_changes([(online, plant.set(online, False))])  # repeated: one outage
    plant.now += 120
    svc.on_changes([(online, plant.set(online, True))])
    plant.now += 60
    svc.on_changes([(online, plant.set(online, False))])
    plant.now += 30
    assert svc.flush()
    found = link_outages(engine, T0, T0 + 3600, now=plant.now)
    assert found["PLC1"].count == 2
    assert found["PLC1"].minutes == pytest.approx(2.5)  # 2 min + 30 s still open
    assert "PLC2" not in found
    # a window cuts the outages it overlaps
    assert link_outages(engine, T0 + 120, T0 + 150, now=plant.now)["PLC1"].minutes == pytest.approx(
        0.5
    )
    svc.stop()  # the open outage is closed at the stop
    with engine.connect() as conn:
        ends = conn.execute(text('SELECT "end" FROM link_outage ORDER BY start')).scalars().all()
    assert ends == [T0 + 180, plant.now]


def test_the_first_connection_at_start_is_no_outage_unless_it_never_comes(
    engine: Engine,
) -> None:
    plant = Plant()
    svc = service(plant, DiagnosticsSettings(), devices=("PLC1", "PLC2"))
    svc.start(engine, period=3600)
    for name in ("_diag.PLC1.online", "_diag.PLC2.online"):
        svc.on_changes([(name, plant.set(name, False))])  # not connected yet
    plant.now += 2
    svc.on_changes([("_diag.PLC1.online", plant.set("_diag.PLC1.online", True))])
    run(plant, svc, 27)
    assert svc.flush()
    assert link_outages(engine, T0, T0 + 3600, now=plant.now) == {}
    run(plant, svc, 2)  # PLC2 never connected in the grace: an outage since the start
    assert svc.flush()
    found = link_outages(engine, T0, T0 + 3600, now=plant.now)
    assert list(found) == ["PLC2"] and found["PLC2"].minutes == pytest.approx(31 / 60)
    svc.stop()


def test_a_connection_made_before_the_records_open_is_known_at_their_start(
    engine: Engine,
) -> None:
    """The runtime starts before the relational store opens: a device that connected meanwhile
    is neither an outage from the start nor forgotten when it drops later."""
    plant = Plant()
    svc = service(plant, DiagnosticsSettings(), devices=("PLC1",))
    online = "_diag.PLC1.online"
    svc.on_changes([(online, plant.set(online, True))])  # before start: no records yet
    plant.now += 5
    svc.start(engine, period=3600)
    run(plant, svc, 40)  # past the connect grace: it was online, no outage
    assert svc.flush()
    assert link_outages(engine, T0, T0 + 3600, now=plant.now) == {}
    svc.on_changes([(online, plant.set(online, False))])
    plant.now += 60
    svc.on_changes([(online, plant.set(online, True))])
    assert svc.flush()
    found = link_outages(engine, T0, T0 + 3600, now=plant.now)
    assert found["PLC1"].count == 1 and found["PLC1"].minutes == pytest.approx(1.0)
    svc.stop()


def test_data_accuracy_counts_faulty_seconds_per_tag_and_month(engine: Engine) -> None:
    plant = Plant()
    svc = service(
        plant,
        DiagnosticsSettings(signals={"A": SignalCheck("A", frozen_after=100.0, noise=0.0)}),
    )
    svc.start(engine, period=3600)
    plant.set("A", 1.0)
    svc.evaluate()
    for i in range(300):  # moving: fine
        plant.set("A", float(i % 2))
        run(plant, svc, 1)
    assert svc.flush()  # the rest is added to the same row
    run(plant, svc, 200)  # still: frozen from 100 s on -> 100 s frozen
    plant.set("A", None, Quality.BAD, reason=Reason.COMM_FAILURE)
    run(plant, svc, 50)  # bad: 50 s
    assert svc.flush()
    (row,) = data_accuracy(engine, month_of(plant.now))
    assert row.tag == "A" and row.watched_s == pytest.approx(550.0)
    assert row.frozen_s == pytest.approx(100.0, abs=1.0)
    assert row.bad_s == pytest.approx(50.0)
    assert row.faulty_s == pytest.approx(150.0, abs=1.0)
    assert row.frozen_count == 1 and row.bad_count == 1
    assert row.accuracy_pct == pytest.approx(100 * 400 / 550, abs=0.2)
    svc.stop()


def test_a_failed_write_keeps_the_records_for_the_next_one(engine: Engine) -> None:
    plant = Plant()
    svc = service(
        plant,
        DiagnosticsSettings(signals={"A": SignalCheck("A", range=True)}),
        devices=("PLC1",),
    )
    svc.start(engine, period=3600)
    plant.set("A", 1.0)
    svc.evaluate()
    run(plant, svc, 10)
    online = "_diag.PLC1.online"
    svc.on_changes([(online, plant.set(online, True))])
    svc.on_changes([(online, plant.set(online, False))])
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE data_quality RENAME TO dq_away"))
    assert not svc.flush()
    assert not svc.records_online
    run(plant, svc, 10)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE dq_away RENAME TO data_quality"))
    assert svc.flush() and svc.records_online
    (row,) = data_accuracy(engine, month_of(plant.now))
    assert row.watched_s == pytest.approx(20.0)
    assert link_outages(engine, T0, plant.now + 1, now=plant.now)["PLC1"].count == 1
    svc.stop()

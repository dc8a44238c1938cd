"""Diagnostic alarms against the simulator over Modbus: a leak on one segment, a frozen meter,
a device that drops off and comes back. Detection times are shortened in the project copy."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.sim.faults import Frozen, Leak, Offline
from hmi.alarms.model import AlarmState, Event
from hmi.diagnostics.records import link_outages
from hmi.station import Station
from tests.conftest import demo_copy, wait_until

pytestmark = pytest.mark.slow

LEAK_N1, LEAK_N2 = "segment.N1.leak", "segment.N2.leak"
FROZEN = "HS1.JT101.frozen"
OFFLINE = "_diag.PLC_SS4.online.offline"


def fast_project(tmp_path: Path) -> Path:
    """The demo with detection times a test can wait for."""
    root = demo_copy(tmp_path)
    project = root / "project.toml"
    text = project.read_text()
    text = re.sub(r'(?m)^window = "[^"]*"', 'window = "20s"', text)
    text = re.sub(r'(?m)^min_duration = "[^"]*"', 'min_duration = "4s"', text)
    project.write_text(text)
    tags = root / "tags.toml"
    tags.write_text(
        tags.read_text().replace(
            'name = "HS1.JT101"\n', 'name = "HS1.JT101"\nchecks = { frozen = "10s" }\n', 1
        )
    )
    devices = root / "devices.toml"
    devices.write_text(
        devices.read_text().replace(
            'simulate = "heating/SS4"\n',
            'simulate = "heating/SS4"\nalarms = { offline_after = "2s" }\n',
        )
    )
    return root


@pytest.fixture
def station(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Station]:
    monkeypatch.setenv("CONDUIT_HOME", str(tmp_path / "home"))  # a journal of its own
    station = Station.open(fast_project(tmp_path), simulate=True)
    with station:
        store = station.runtime.store
        wait_until(
            lambda: all(store.get(n).good for n in ("HS1.FT101", "HS1.FT110", "SS4.FT201")),
            20,
            "plant values good",
        )
        yield station


def inject(station: Station, fault: object) -> None:
    sim = station.simulation
    assert sim is not None and sim.heating is not None
    sim.call(sim.heating.plant.faults.add, fault)


def clear(station: Station, key: str) -> None:
    sim = station.simulation
    assert sim is not None and sim.heating is not None
    sim.call(sim.heating.plant.faults.remove, key)


def active(station: Station, alarm: str) -> bool:
    return station.alarms.view(alarm).active


def test_a_leak_on_one_segment_raises_that_segments_alarm_only(station: Station) -> None:
    # let both windows fill at normal operation first: no leak is found
    wait_until(lambda: station.diagnostics.evaluations >= 16, 25, "windows half full")
    assert [v.id for v in station.alarms.active()] == [], "a healthy plant raises nothing"
    inject(station, Leak("N2", 4.0))
    wait_until(lambda: active(station, LEAK_N2), 60, "leak alarm on N2")
    # the estimate is the window's mean imbalance: it reaches the leak once the window holds
    # only leaking samples
    wait_until(
        lambda: abs((station.alarms.view(LEAK_N2).value or 0.0) - 4.0) < 0.5, 40, "leak rate"
    )
    view = station.alarms.view(LEAK_N2)
    assert "N2" in view.text("en") and f"{view.value:.2f}" in view.text("en")
    assert "N2" in view.text("zh_CN") and "泄漏" in view.text("zh_CN")
    assert station.runtime.store.get("_leak.N2.confidence").value in ("medium", "high")
    assert not active(station, LEAK_N1)
    clear(station, "leak:N2")
    wait_until(lambda: not active(station, LEAK_N2), 60, "leak alarm clears")
    assert station.journal is not None and station.journal.flush()
    assert station.journal.query(alarm=LEAK_N1) == [], "N1 never alarmed"
    events = [t.event for t in station.journal.query(alarm=LEAK_N2)]
    assert events == [Event.ACTIVATE, Event.CLEAR]


def test_a_frozen_meter_raises_a_frozen_alarm_and_clears_when_it_moves(station: Station) -> None:
    inject(station, Frozen("HS1.JT101"))
    wait_until(lambda: active(station, FROZEN), 30, "frozen alarm")
    assert station.alarms.view(FROZEN).tag == "HS1.JT101"
    clear(station, "frozen:HS1.JT101")
    wait_until(lambda: not active(station, FROZEN), 15, "frozen alarm clears")
    assert station.alarms.view(FROZEN).state is AlarmState.RTN_UNACK


def test_a_dropped_device_raises_offline_then_clears_and_the_outage_is_recorded(
    station: Station,
) -> None:
    wait_until(lambda: station.runtime.store.get("_diag.PLC_SS4.online").value is True, 10, "on")
    assert not active(station, OFFLINE)
    inject(station, Offline("SS4"))
    wait_until(lambda: active(station, OFFLINE), 30, "offline alarm")
    assert station.runtime.store.get("SS4.TT301").good is False
    clear(station, "offline:SS4")
    wait_until(lambda: not active(station, OFFLINE), 30, "offline alarm clears on reconnect")
    assert station.diagnostics.flush() and station.database is not None
    outages = link_outages(station.database, 0, 4e9)
    assert outages["PLC_SS4"].count == 1
    assert 0 < outages["PLC_SS4"].minutes < 1
    assert "PLC_SS1" not in outages

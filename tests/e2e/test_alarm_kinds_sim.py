"""Every alarm kind raised and cleared against the running simulators, over Modbus and OPC UA.

Limit kinds (hi, hihi, lo, deviation, rate), digital, bad quality, packet loss, the data-quality
findings (spike, range, plausibility) and one gas-station alarm; leak, frozen and offline are in
test_alarms_sim.py. The plants run faster than real time (`sim_speed`) and the project copy has
shorter delays, so each episode takes seconds. Each test checks the journal (activate, then
clear) and that no other alarm stirred meanwhile.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from drivers.sim.faults import Frozen, Offline, Spike, StuckValve
from drivers.sim.gasgate_faults import FilterClogging
from drivers.sim.plant import Plant
from hmi.alarms.model import AlarmState, Event
from hmi.station import Station
from tests.conftest import demo_copy, wait_until

pytestmark = pytest.mark.slow

SPEED = 60.0  # simulated seconds per real second
RATE = "HS1.TT101.rate"  # added to the copy: |dT/dt| of the supply above 1 K/s (real time)


def _edit(path: Path, old: str, new: str, *, tag: str | None = None) -> None:
    """Replace `old` by `new` once in `path` (only within `[[tag]]` `tag` when given)."""
    text = path.read_text()
    start, end = 0, len(text)
    if tag is not None:
        start = text.index(f'name = "{tag}"\n')
        following = text.find("[[tag]]", start)
        end = following if following >= 0 else len(text)
    where = text.find(old, start, end)
    assert where >= 0, f"{path.name}: {old!r} not found{f' in {tag}' if tag else ''}"
    path.write_text(text[:where] + new + text[where + len(old) :])


def fast_project(tmp_path: Path) -> Path:
    """The demo with delays a test can wait for, and the few alarms the demo does not have."""
    root = demo_copy(tmp_path)
    tags, gas = root / "tags.toml", root / "tags" / "gasgate.toml"
    # HS1 supply: shorter delays, and a rate-of-change alarm
    _edit(tags, 'on_delay = "10s"', 'on_delay = "1s"', tag="HS1.TT101")
    _edit(tags, 'on_delay = "10m"', 'on_delay = "1s"', tag="HS1.TT101")
    _edit(
        tags,
        "alarms = [\n",
        'alarms = [\n  { kind = "rate", limit = 1.0, deadband = 0.5 },\n',
        tag="HS1.TT101",
    )
    _edit(tags, 'on_delay = "5m"', 'on_delay = "2s"', tag="SS1.TT301")  # its lo alarm
    _edit(
        tags,
        'name = "SS4.FT301"\n',
        'name = "SS4.FT301"\nalarms = [ { kind = "bad_quality" } ]\n',
        tag="SS4.FT301",
    )
    _edit(tags, "spike_rate = 1.0,", 'spike_rate = 1.0, spike_hold = "3s",', tag="SS3.PT201")
    # the stuck return reading lasts a few seconds: with spikes lasting at most 1 s its repair
    # is a step, not a spike (test_a_stuck_return_transmitter_fails_the_plausibility_rule...)
    _edit(tags, "spike_rate = 2.0,", 'spike_rate = 2.0, spike_within = "1s",', tag="HS1.TT102")
    _edit(gas, 'on_delay = "10m"', 'on_delay = "1s"', tag="GS1.PDT111")
    _edit(
        root / "project.toml",
        'name = "HS1_supply_above_return"\n',
        'name = "HS1_supply_above_return"\nfor = "2s"\n',
    )
    _edit(
        root / "devices.toml",
        'simulate = "heating/SS4"\n',
        'simulate = "heating/SS4"\nreconnect_max = "0.5s"\nalarms = { loss_above = 2.0 }\n',
    )
    return root


@pytest.fixture
def station(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Station]:
    monkeypatch.setenv("CONDUIT_HOME", str(tmp_path / "home"))  # a journal of its own
    station = Station.open(fast_project(tmp_path), simulate=True, sim_speed=SPEED)
    with station:
        store = station.runtime.store
        # every value a test reads first (the scan classes start at different times)
        names = ("HS1.TT101", "HS1.TT102", "SS1.TT301", "SS2.ZT301", "SS4.FT301", "GS1.PDT111")
        wait_until(lambda: all(store.get(n).good for n in names), 20, "plant values good")
        yield station


@dataclass(frozen=True)
class Operator:
    """A person who may acknowledge and reset everywhere."""

    name: str = "operator"

    def may(self, permission: str, area: str) -> bool:
        return True


def plant(station: Station) -> Plant:
    sim = station.simulation
    assert sim is not None and sim.heating is not None
    return sim.heating.plant


def on_sim(station: Station, fn: Callable[..., object], *args: object) -> None:
    """Run `fn(*args)` on the simulator thread (faults and writes change the plant there)."""
    assert station.simulation is not None
    station.simulation.call(fn, *args)


def write(station: Station, point: str, value: float | bool) -> None:
    """A command written to the plant, as its local panel would."""
    on_sim(station, plant(station).write, point, value)


def value(station: Station, tag: str) -> float:
    v = station.runtime.store.get(tag)
    assert v.good, f"{tag} is {v}"
    return float(v.value)


def active(station: Station, alarm: str) -> bool:
    return station.alarms.view(alarm).active


def cleared_since(station: Station, alarm: str, since: float) -> bool:
    """True when `alarm` came and went after `since` (cleared, not yet acknowledged)."""
    view = station.alarms.view(alarm)
    return view.state is AlarmState.RTN_UNACK and (view.since or 0.0) > since


def stirred(station: Station) -> set[str]:
    """Every alarm not back to normal: active, or cleared but not acknowledged."""
    return {v.id for v in station.alarms.active()}


def journal(station: Station, alarm: str) -> list[Event]:
    assert station.journal is not None and station.journal.flush()
    return [t.event for t in station.journal.query(alarm=alarm)]


def test_a_setpoint_step_raises_hi_hihi_deviation_and_rate_on_the_supply(
    station: Station,
) -> None:
    hi, hihi, dev = "HS1.TT101.hi", "HS1.TT101.hihi", "HS1.TT101.deviation"
    assert stirred(station) == set(), "a healthy plant raises nothing"
    start = time.time()
    # weather compensation off, a fixed setpoint far above the curve (~100 °C here)
    write(station, "HS1.TIC101_WC", False)
    write(station, "HS1.TIC101_SP", 125.0)
    # the burner heats at full power (a few K/s at this speed): the rate and, while the supply
    # lags the setpoint by more than 8 K, the deviation fire, then hi above 110 and hihi above 115
    wait_until(lambda: active(station, hihi) and active(station, hi), 40, "hi and hihi")
    # near the setpoint the supply slows down and comes within the deviation limit
    wait_until(
        lambda: cleared_since(station, dev, start) and cleared_since(station, RATE, start),
        40,
        "deviation and rate clear on the plateau",
    )
    assert stirred(station) == {hi, hihi, dev, RATE}
    view = station.alarms.view(hi)
    assert view.limit == 110.0 and view.value is not None and view.value > 110.0
    assert "Supply temperature high" in view.text("en")

    back = time.time()
    write(station, "HS1.TIC101_WC", True)  # back on the curve: the supply cools fast
    wait_until(lambda: value(station, "HS1.TT101") < 113.0, 30, "supply below hihi")
    # hihi is latched: its condition cleared, it stays until acknowledged and reset
    assert active(station, hihi)
    operator = Operator()
    assert station.alarms.ack(operator, [hihi], "limiter checked") == []
    station.alarms.reset(operator, hihi)
    assert not active(station, hihi)
    # the cooling supply is again far from the (now lower) setpoint and fast: deviation and
    # rate come and go a second time; hi clears once 1 K (its deadband) below the limit
    wait_until(
        lambda: (
            not active(station, hi)
            and cleared_since(station, dev, back)
            and cleared_since(station, RATE, back)
        ),
        40,
        "hi, deviation and rate clear on the way down",
    )
    assert value(station, "HS1.TT101") < 105.0
    assert stirred(station) == {hi, dev, RATE}, "hihi was reset; nothing else stirred"
    assert journal(station, hi) == [Event.ACTIVATE, Event.CLEAR]
    assert journal(station, hihi) == [Event.ACTIVATE, Event.CLEAR, Event.ACK, Event.RESET]
    assert journal(station, dev) == [Event.ACTIVATE, Event.CLEAR] * 2
    assert journal(station, RATE) == [Event.ACTIVATE, Event.CLEAR] * 2


def test_a_low_setpoint_raises_lo_and_a_stuck_valve_raises_its_digital_alarm(
    station: Station,
) -> None:
    lo, stuck = "SS1.TT301.lo", "SS2.ZA301.digital"
    assert stirred(station) == set()
    # SS1: secondary supply on a fixed 30 °C, below its lo limit (45 °C)
    write(station, "SS1.TIC301_WC", False)
    write(station, "SS1.TIC301_SP", 30.0)
    # SS2: the valve sticks, then the operator moves it by hand: the PLC flags the deviation
    position = value(station, "SS2.ZT301")
    on_sim(station, plant(station).faults.add, StuckValve("SS2"))
    write(station, "SS2.TIC301_AUTO", False)
    write(station, "SS2.ZC301", position - 20.0 if position > 50.0 else position + 20.0)
    try:
        wait_until(lambda: active(station, stuck), 30, "valve fault")
        wait_until(lambda: active(station, lo), 30, "secondary supply low")
        assert value(station, "SS1.TT301") < 45.0
        assert station.alarms.view(lo).value == pytest.approx(value(station, "SS1.TT301"), abs=1)
    finally:
        on_sim(station, plant(station).faults.remove, "stuck:SS2")
    write(station, "SS1.TIC301_WC", True)
    wait_until(lambda: not active(station, stuck), 30, "the freed valve reaches its command")
    write(station, "SS2.TIC301_AUTO", True)
    wait_until(lambda: not active(station, lo), 60, "secondary supply back on the curve")
    assert value(station, "SS1.TT301") > 46.0
    assert stirred(station) == {lo, stuck}
    assert journal(station, lo) == [Event.ACTIVATE, Event.CLEAR]
    assert journal(station, stuck) == [Event.ACTIVATE, Event.CLEAR]


def test_a_short_link_drop_raises_bad_quality_and_packet_loss_but_not_offline(
    station: Station,
) -> None:
    bad, loss = "SS4.FT301.bad_quality", "_diag.PLC_SS4.loss_pct.packet_loss"
    offline = "_diag.PLC_SS4.online.offline"
    store = station.runtime.store
    wait_until(lambda: store.get("_diag.PLC_SS4.online").value is True, 10, "SS4 online")
    assert stirred(station) == set()
    # SS4 stops answering for a few seconds: each reconnect attempt (every 0.5 s here) is a
    # lost request in the driver's window of its last 200
    on_sim(station, plant(station).faults.add, Offline("SS4"))
    try:
        wait_until(lambda: active(station, bad), 15, "bad quality")
        wait_until(lambda: active(station, loss), 15, "packet loss above 2 %")
        assert store.get("SS4.FT301").good is False
    finally:
        on_sim(station, plant(station).faults.remove, "offline:SS4")
    wait_until(lambda: not active(station, bad), 15, "good values again")
    # the loss clears once the failed requests have left the window
    wait_until(lambda: not active(station, loss), 60, "packet loss back below 2 %")
    assert store.get("_diag.PLC_SS4.loss_pct").value < 2.0
    assert not active(station, offline) and journal(station, offline) == []
    assert stirred(station) == {bad, loss}
    assert journal(station, bad) == [Event.ACTIVATE, Event.CLEAR]
    assert journal(station, loss) == [Event.ACTIVATE, Event.CLEAR]


def test_spiking_and_out_of_range_transmitters_raise_their_findings(station: Station) -> None:
    spike, out = "SS3.PT201.spike", "SS1.FT201.range"
    assert stirred(station) == set()
    p = plant(station)
    # SS3.PT201 (about 4.7 bar) jumps by ±3 bar in a fifth of its samples and comes back;
    # SS1.FT201 reads ±100 kg/s off, outside its range 0..60, in every sample
    on_sim(station, p.faults.add, Spike("SS3.PT201", magnitude=3.0, probability=0.2))
    on_sim(station, p.faults.add, Spike("SS1.FT201", magnitude=100.0, probability=1.0))
    try:
        wait_until(lambda: active(station, out), 15, "out of range")
        assert station.runtime.store.get("SS1.FT201").good is False
        wait_until(lambda: active(station, spike), 30, "spikes")
    finally:
        on_sim(station, p.faults.remove, "spike:SS3.PT201")
        on_sim(station, p.faults.remove, "spike:SS1.FT201")
    wait_until(lambda: not active(station, out), 15, "back in range")
    wait_until(lambda: not active(station, spike), 20, "no spike for spike_hold (3 s)")
    assert stirred(station) == {spike, out}
    assert journal(station, spike) == [Event.ACTIVATE, Event.CLEAR]
    assert journal(station, out) == [Event.ACTIVATE, Event.CLEAR]


def _stick_high(p: Plant, point: str, above: float, offset: float) -> None:
    """Make `point` read a steady wrong value above `above` (on the simulator thread).

    A ±`offset` spike in every sample, re-published until it came out high, then frozen there:
    a transmitter stuck at one wrong reading.
    """
    p.faults.remove(f"frozen:{point}")
    p.faults.add(Spike(point, magnitude=offset, probability=1.0))
    for _ in range(1000):  # each try is high with a chance of one half
        p.measure()
        if p.measured[point] > above:
            break
    p.faults.add(Frozen(point))
    p.faults.remove(f"spike:{point}")


def test_a_stuck_return_transmitter_fails_the_plausibility_rule_then_passes(
    station: Station,
) -> None:
    check = "check.HS1_supply_above_return"
    assert stirred(station) == set()
    p = plant(station)
    supply, returned = value(station, "HS1.TT101"), value(station, "HS1.TT102")
    assert supply > returned + 30.0
    try:
        on_sim(station, _stick_high, p, "HS1.TT102", supply + 5.0, 70.0)
        wait_until(lambda: value(station, "HS1.TT102") > supply, 10, "return reads high")
        wait_until(lambda: active(station, check), 15, "implausible for 2 s")
        assert "check TT101/TT102" in station.alarms.view(check).text("en")
    finally:
        on_sim(station, p.faults.remove, "frozen:HS1.TT102")
        on_sim(station, p.faults.remove, "spike:HS1.TT102")
    wait_until(lambda: not active(station, check), 15, "plausible again")
    assert value(station, "HS1.TT102") < supply - 30.0
    assert stirred(station) == {check}
    assert journal(station, check) == [Event.ACTIVATE, Event.CLEAR]


def test_a_clogging_filter_raises_its_alarms_over_opc_ua(station: Station) -> None:
    hi, high = "GS1.PDT111.hi", "GS1.PDAH111.digital"
    sim = station.simulation
    assert sim is not None and sim.gasgate is not None
    faults = sim.gasgate.plant.faults
    assert value(station, "GS1.PDT111") < 20.0
    assert stirred(station) == set()
    on_sim(station, faults.add, FilterClogging(rate=120.0))  # clean resistance x2 per 30 s
    try:
        wait_until(lambda: active(station, hi), 20, "filter dp above 35 kPa")
        wait_until(lambda: active(station, high), 20, "filter dp switch (50 kPa)")
    finally:
        on_sim(station, faults.remove, "filter")  # the element is replaced
    wait_until(lambda: not active(station, hi) and not active(station, high), 20, "clean")
    assert value(station, "GS1.PDT111") < 20.0
    assert stirred(station) == {hi, high}
    assert journal(station, hi) == [Event.ACTIVATE, Event.CLEAR]
    assert journal(station, high) == [Event.ACTIVATE, Event.CLEAR]

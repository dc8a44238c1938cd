"""Alarm KPIs on a small synthetic journal whose every figure was worked out by hand.

The window is one hour, [T0, T0 + 3600). Offsets below are seconds from T0. Activations in it:

    HS1.PT201.hi  MEDIUM  HS1  at 100, 130, 150, 2400           4  (chatters: 3 within 50 s)
    HS1.F01..F12  LOW     HS1  at 1200 + 30 k, k = 0..11       12  (1200 .. 1530: the flood)
    GAS.FT301.hi  HIGH    GAS  at 2200, 2230, 2260              3  (3 within exactly 60 s: not)
    GAS.XV1.alarm URGENT  GAS  at 3000                          1
                                                               --
                                                               20

Before the window: GAS.PT100.lo activated at -90000 and never cleared (stale), HS1.TT150.hi at
-86000 (cleared at 500: not stale), HS1.TT160.hi at -82000 (active 85,600 s at the end: not
stale). Nothing else is within 600 s of the flood block, so it alone makes a flood.
"""

from __future__ import annotations

import pytest

from hmi.alarms.kpi import (
    AreaRate,
    BadActor,
    ChatteringAlarm,
    FloodReport,
    PriorityShare,
    ResponseTimes,
    StaleAlarm,
    WorkflowDurations,
    alarm_rates,
    bad_actors,
    chattering,
    compute,
    floods,
    priority_distribution,
    response_times,
    stale,
    workflow_durations,
)
from hmi.alarms.model import AlarmState, Event, Priority, Transition
from hmi.alarms.response import AlarmResponse

T0 = 1_800_000_000.0
START, END = T0, T0 + 3600
ACT, ACK, CLR = Event.ACTIVATE, Event.ACK, Event.CLEAR
L, M, H, U = Priority.LOW, Priority.MEDIUM, Priority.HIGH, Priority.URGENT

_STATE = {ACT: AlarmState.UNACK, ACK: AlarmState.ACKED, CLR: AlarmState.RTN_UNACK}
_WHERE = {  # alarm -> (priority, area, tag)
    "HS1.PT201.hi": (M, "HS1", "HS1.PT201"),
    "GAS.FT301.hi": (H, "GAS", "GAS.FT301"),
    "GAS.XV1.alarm": (U, "GAS", "GAS.XV1"),
    "GAS.PT100.lo": (U, "GAS", "GAS.PT100"),
    "HS1.TT150.hi": (M, "HS1", "HS1.TT150"),
    "HS1.TT160.hi": (M, "HS1", "HS1.TT160"),
    **{f"HS1.F{k:02d}": (L, "HS1", f"HS1.FIC{k:02d}") for k in range(1, 13)},
}


def tr(offset: float, alarm: str, event: Event = ACT) -> Transition:
    """A transition `offset` seconds after T0."""
    priority, area, tag = _WHERE[alarm]
    return Transition(T0 + offset, alarm, event, _STATE[event], priority, area, tag)


def journal() -> list[Transition]:
    """The synthetic journal, deliberately not in time order."""
    rows = [
        # before the window
        tr(-90000, "GAS.PT100.lo"),
        tr(-86000, "HS1.TT150.hi"),
        tr(-82000, "HS1.TT160.hi"),
        tr(10, "HS1.TT150.hi", ACK),
        tr(500, "HS1.TT150.hi", CLR),
        Transition(
            T0 + 100, "GAS.PT100.lo", Event.SHELVE, AlarmState.SHELVED, U, "GAS", "GAS.PT100"
        ),
        # PT201: ack 10 s, clear 20 s | clear 10 s, ack 15 s | ack 20 s, clear 50 s | ack 30 s
        tr(100, "HS1.PT201.hi"),
        tr(110, "HS1.PT201.hi", ACK),
        tr(120, "HS1.PT201.hi", CLR),
        tr(130, "HS1.PT201.hi"),
        tr(140, "HS1.PT201.hi", CLR),
        tr(145, "HS1.PT201.hi", ACK),
        tr(150, "HS1.PT201.hi"),
        tr(170, "HS1.PT201.hi", ACK),
        tr(200, "HS1.PT201.hi", CLR),
        tr(2400, "HS1.PT201.hi"),
        tr(2430, "HS1.PT201.hi", ACK),
        # FT301: ack 10, clear 15 | clear 10, no ack before the next activation | ack 5, clear 30
        tr(2200, "GAS.FT301.hi"),
        tr(2210, "GAS.FT301.hi", ACK),
        tr(2215, "GAS.FT301.hi", CLR),
        tr(2230, "GAS.FT301.hi"),
        tr(2240, "GAS.FT301.hi", CLR),
        tr(2260, "GAS.FT301.hi"),
        tr(2265, "GAS.FT301.hi", ACK),
        tr(2290, "GAS.FT301.hi", CLR),
        # XV1: acknowledged only after the window's end, never cleared
        tr(3000, "GAS.XV1.alarm"),
        tr(3700, "GAS.XV1.alarm", ACK),
    ]
    for k in range(12):  # the flood: all acknowledged at 1600 and cleared at 1700
        name = f"HS1.F{k + 1:02d}"
        rows += [tr(1200 + 30 * k, name), tr(1600, name, ACK), tr(1700, name, CLR)]
    return rows[::-1]


def test_alarm_rates_per_area_per_10_minutes() -> None:
    # buckets [0,600) [600,1200) [1200,1800) [1800,2400) [2400,3000) [3000,3600)
    # GAS: FT301 x3 in bucket 3; XV1 at 3000 opens bucket 5. 4 in 6 buckets: mean 4/6
    # HS1: PT201 x3 in bucket 0, 2400 opens bucket 4; F01..F12 in bucket 2. 16/6
    assert alarm_rates(journal(), START, END) == [
        AreaRate("GAS", (0, 0, 0, 3, 0, 1), 4, pytest.approx(4 / 6), 3),
        AreaRate("HS1", (3, 0, 12, 0, 1, 0), 16, pytest.approx(16 / 6), 12),
    ]


def test_flood_periods_and_time_in_flood() -> None:
    # 10 in a row within < 600 s: F01..F10 (1200..1470) -> [1470, 1200 + 600) = [1470, 1800)
    # F02..F11 -> [1500, 1830), F03..F12 -> [1530, 1860); merged [1470, 1860) = 390 s
    # 390 / 3600 = 10.8333 %
    report = floods(journal(), START, END)
    assert report == FloodReport(((T0 + 1470, T0 + 1860),), 390.0, pytest.approx(10.833333333))


def test_flood_edges() -> None:
    acts = [tr(60 * i, f"HS1.F{i + 1:02d}") for i in range(10)]  # 0, 60, .., 540
    # ten within 540 s -> [540, 600): 60 s of a 3600 s window = 1.6667 %
    assert floods(acts, START, END) == FloodReport(
        ((T0 + 540, T0 + 600),), 60.0, pytest.approx(100 / 60)
    )
    spaced = [tr(600 / 9 * i, f"HS1.F{i + 1:02d}") for i in range(10)]  # 10 in exactly 600 s
    assert floods(spaced, START, END).periods == ()
    # the same ten seen from a window starting at 570: the flood began before it, is clipped
    assert floods(acts, T0 + 570, END).periods == ((T0 + 570, T0 + 600),)
    assert floods(acts, T0 + 570, END).seconds == 30.0
    # nine do not make a flood
    assert floods(acts[:9], START, END) == FloodReport((), 0.0, 0.0)


def test_bad_actors_top_10() -> None:
    # 20 activations: PT201 4 (20 %), FT301 3 (15 %), then the ones with 1 (5 %) by name
    assert bad_actors(journal(), START, END) == [
        BadActor("HS1.PT201.hi", "HS1", "HS1.PT201", M, 4, 20.0),
        BadActor("GAS.FT301.hi", "GAS", "GAS.FT301", H, 3, 15.0),
        BadActor("GAS.XV1.alarm", "GAS", "GAS.XV1", U, 1, 5.0),
        *(BadActor(f"HS1.F{k:02d}", "HS1", f"HS1.FIC{k:02d}", L, 1, 5.0) for k in range(1, 8)),
    ]
    assert [b.alarm for b in bad_actors(journal(), START, END, n=2)] == [
        "HS1.PT201.hi",
        "GAS.FT301.hi",
    ]


def test_chattering() -> None:
    # PT201: 100, 130, 150 -> 150 - 100 = 50 < 60: chatters; most in [100, 160) = 3
    # FT301: 2200, 2230, 2260 -> 2260 - 2200 = 60, not < 60: does not (2 in any 60 s)
    assert chattering(journal(), START, END) == [
        ChatteringAlarm("HS1.PT201.hi", "HS1", "HS1.PT201", 4, 3, T0 + 100)
    ]
    assert chattering(journal(), T0 + 120, END) == []  # only 130, 150 of the burst are in it


def test_stale_alarms() -> None:
    # PT100: 3600 + 90000 = 93600 s > 86400; TT160: 3600 + 82000 = 85600 s, not yet
    # TT150 was cleared at 500; the shelving of PT100 does not change its condition
    assert stale(journal(), END) == [
        StaleAlarm("GAS.PT100.lo", "GAS", "GAS.PT100", U, T0 - 90000, 93600.0)
    ]
    # seen at 4400 as well: TT160 is 86400 s active, not more than a day: still not stale
    assert [s.alarm for s in stale(journal(), T0 + 4400)] == ["GAS.PT100.lo"]
    assert [s.alarm for s in stale(journal(), T0 + 4401)] == ["GAS.PT100.lo", "HS1.TT160.hi"]


def test_priority_distribution() -> None:
    # LOW 12/20 = 60 %, MEDIUM 4/20 = 20 %, HIGH 3/20 = 15 %, URGENT 1/20 = 5 %
    assert priority_distribution(journal(), START, END) == [
        PriorityShare(L, 12, 60.0),
        PriorityShare(M, 4, 20.0),
        PriorityShare(H, 3, 15.0),
        PriorityShare(U, 1, 5.0),
    ]


def test_mean_time_to_acknowledge_and_clear() -> None:
    # ack:   PT201 10 + 15 + 20 + 30 = 75; F: sum(400 - 30k, k=0..11) = 4800 - 1980 = 2820;
    #        FT301 10 + 5 = 15; XV1 after the end -> 18 acked, 2910 / 18 = 161.667 s
    # clear: PT201 20 + 10 + 50 = 80; F: sum(500 - 30k) = 6000 - 1980 = 4020;
    #        FT301 15 + 10 + 30 = 55 -> 18 cleared, 4155 / 18 = 230.833 s
    assert response_times(journal(), START, END) == ResponseTimes(
        20, 18, pytest.approx(2910 / 18), 18, pytest.approx(4155 / 18)
    )
    assert response_times([], START, END) == ResponseTimes(0, 0, None, 0, None)


def responses() -> list[AlarmResponse]:
    """Response records: four of the window's occurrences and one from before it."""

    def r(i: int, alarm: str, act: float, ack: float, sent: float, **more: float) -> AlarmResponse:
        steps = {k: T0 + v for k, v in more.items()}
        return AlarmResponse(
            i,
            alarm,
            T0 + act,
            T0 + ack,
            "li",
            T0 + sent,
            "wang",
            "li",
            **steps,  # type: ignore[arg-type]
        )

    return [
        r(1, "HS1.PT201.hi", 100, 110, 160, cause_ts=400, closed_ts=700),
        r(2, "GAS.FT301.hi", 2200, 2210, 2310, cause_ts=2400, closed_ts=2500),
        r(3, "GAS.XV1.alarm", 3000, 3010, 3100),
        r(4, "HS1.F01", 1200, 1600, 3590, cause_ts=3650),  # the cause after the window's end
        r(5, "HS1.TT150.hi", -86000, 10, 20),  # activated before the window
    ]


def test_workflow_durations() -> None:
    # 4 occurrences activated in the window (record 5 is older)
    # ack -> dispatch: 50, 100, 90, 1990 -> 2230 / 4 = 557.5
    # dispatch -> cause: 240, 90 (record 4's cause at 3650 is after the end) -> 165
    # activation -> closed: 600, 300 -> 450
    assert workflow_durations(responses(), START, END) == WorkflowDurations(
        4, 4, 557.5, 2, 165.0, 2, 450.0
    )


def test_compute_bundles_every_kpi() -> None:
    kpis = compute(journal(), START, END, responses())
    assert kpis.activations == 20
    assert kpis.flood.seconds == 390.0
    assert [c.alarm for c in kpis.chattering] == ["HS1.PT201.hi"]
    assert [s.alarm for s in kpis.stale] == ["GAS.PT100.lo"]
    assert kpis.rates == alarm_rates(journal(), START, END)
    assert kpis.bad_actors[0].activations == 4
    assert kpis.priorities[0].percent == 60.0
    assert kpis.response.acked == 18
    assert kpis.workflow.mean_activation_to_closed == 450.0
    empty = compute([], START, END)
    assert empty.activations == 0 and empty.rates == [] and empty.flood.percent == 0.0
    assert [p.percent for p in empty.priorities] == [0.0] * 4

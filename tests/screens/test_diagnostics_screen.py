"""Diagnostics screen: device links, data-quality findings, services; a fake client over a real
TagStore for the fast tests, the simulator for the slow one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QAbstractItemModel, Qt
from pytestqt.qtbot import QtBot

from drivers.address import split
from hmi.alarms.system import database_tag_defs
from hmi.client import InProcessClient, LinkStats, connect
from hmi.history.service import history_tag_defs
from hmi.tags import DataType, Quality, Reason, TagDef, Value, link_tag_defs
from screens import i18n, theme
from screens.context import AppContext
from screens.diagnostics import DiagnosticsScreen
from screens.diagnostics.devices import (
    COL_DEVICE,
    COL_ERROR,
    COL_PROTOCOL,
    COL_RESPONSE,
    COL_STATE,
    COL_TAGS,
)
from screens.diagnostics.findings import COL_DETAIL, COL_KIND, COL_SINCE, COL_SUBJECT
from screens.refresh import Refresher
from tests.conftest import demo_copy
from tests.screens.store_client import StoreClient as BaseStoreClient

GOOD = Quality.GOOD


def _tags() -> dict[str, TagDef]:
    plant = [
        TagDef("HS1.TT101", address=split("modbus://PLC1/1/hr/100?type=float32"), unit="°C"),
        TagDef("HS1.FT101", address=split("modbus://PLC1/1/hr/102?type=float32"), unit="t/h"),
        TagDef("GS1.PT101", address=split("opcua://UA1/ns=2;s=PT101"), unit="MPa"),
    ]
    system = [
        *(
            TagDef(f"_quality.HS1.TT101.{k}", type=DataType.BOOL)
            for k in ("frozen", "spike", "range")
        ),
        TagDef(
            "_check.HS1_supply_above_return.failed",
            description="Implausible: supply below return",
            type=DataType.BOOL,
        ),
        TagDef("_leak.N1.rate", unit="t/h", decimals=2),
        TagDef("_leak.N1.confidence", type=DataType.STRING),
        *link_tag_defs("PLC1"),
        *link_tag_defs("UA1"),
        *history_tag_defs(),
        *database_tag_defs(),
    ]
    return {t.name: t for t in (*plant, *system)}


class DiagnosticsClient(BaseStoreClient):
    """A RuntimeClient over a bare TagStore and settable link statistics."""

    def __init__(self) -> None:
        super().__init__(_tags())
        now = time.time()
        self.links = {
            "PLC1": LinkStats("PLC1", True, now - 60, requests=50, rtt_p50_ms=2.5, rtt_p99_ms=9.0),
            "UA1": LinkStats("UA1", True, now - 60, requests=20, rtt_p50_ms=7.25),
        }
        self.link_reads = 0

    def link_stats(self) -> dict[str, LinkStats]:
        self.link_reads += 1
        return dict(self.links)

    def set_values(self, **values: object) -> None:
        """Write tag values (keyword names use __ for dots) as good values stamped now."""
        now = time.time()
        self.store.update(
            [
                (k.replace("__", "."), Value(v, GOOD, Reason.NONE, now, now))
                for k, v in values.items()
            ]
        )


def cells(model: QAbstractItemModel, column: int) -> list[str]:
    return [model.index(r, column).data() for r in range(model.rowCount())]


@pytest.fixture
def screen(qtbot: QtBot) -> Iterator[tuple[DiagnosticsScreen, DiagnosticsClient, Refresher]]:
    client = DiagnosticsClient()
    refresher = Refresher(client, interval_ms=20)  # type: ignore[arg-type]
    context = AppContext(client, refresher)  # type: ignore[arg-type]
    widget = DiagnosticsScreen(context)
    qtbot.addWidget(widget)
    refresher.subscribe(widget.apply)  # as the shell does
    widget.show()
    refresher.start()
    yield widget, client, refresher
    refresher.stop()
    i18n.set_language("en")


def test_devices_show_protocol_tags_response_time_and_an_offline_device_in_alarm_colour(
    screen: tuple[DiagnosticsScreen, DiagnosticsClient, Refresher], qtbot: QtBot
) -> None:
    widget, client, _ = screen
    model = widget.devices
    assert cells(model, COL_DEVICE) == ["PLC1", "UA1"]
    assert cells(model, COL_PROTOCOL) == ["Modbus TCP", "OPC UA"]
    assert cells(model, COL_TAGS) == ["2", "1"]
    assert cells(model, COL_STATE) == ["online", "online"]
    assert cells(model, COL_RESPONSE) == ["2.5", "7.2"]
    assert model.index(0, COL_STATE).data(8) is None  # no colour while normal (BackgroundRole)

    client.links["UA1"] = replace(
        client.links["UA1"], online=False, since=time.time(), last_error="connection refused"
    )
    reads = client.link_reads
    client.set_values(_diag__UA1__online=False)  # a batch arrives; the links are read at most 1/s
    qtbot.waitUntil(lambda: model.offline() == ["UA1"], timeout=3000)
    assert client.link_reads - reads <= 2
    assert cells(model, COL_STATE) == ["online", "OFFLINE"]
    assert cells(model, COL_ERROR)[1] == "connection refused"
    assert cells(model, COL_RESPONSE)[1] == "", "no response time for a device that does not answer"
    assert model.index(1, COL_STATE).data(8) == theme.FAULT  # BackgroundRole


def test_findings_appear_and_go_with_their_tags_and_bad_quality_is_counted(
    screen: tuple[DiagnosticsScreen, DiagnosticsClient, Refresher], qtbot: QtBot
) -> None:
    widget, client, _ = screen
    findings = widget.findings
    assert findings.rowCount() == 0
    # the three plant tags never received a value: bad quality
    assert "0 findings · 3 of 3 tags of bad quality" in widget.summary.text()
    client.set_values(HS1__TT101=80.0, HS1__FT101=100.0, GS1__PT101=0.4)
    qtbot.waitUntil(lambda: widget.bad_count == 0, timeout=2000)

    client.set_values(_quality__HS1__TT101__frozen=True)
    qtbot.waitUntil(lambda: findings.rowCount() == 1, timeout=2000)
    assert cells(findings, COL_SUBJECT) == ["HS1.TT101"]
    assert cells(findings, COL_KIND) == ["frozen value"]
    assert cells(findings, COL_SINCE)[0], "since when is shown"

    client.set_values(**{"_check__HS1_supply_above_return__failed": True, "_leak__N1__rate": 3.456})
    client.set_values(
        _leak__N1__confidence="high", _diag__PLC1__online=False, _diag__PLC1__last_change=1.0
    )
    qtbot.waitUntil(lambda: findings.rowCount() == 4, timeout=2000)
    kinds = dict(zip(cells(findings, COL_KIND), cells(findings, COL_DETAIL), strict=True))
    assert kinds["plausibility rule failed"] == "supply below return"
    assert kinds["leak suspected"] == "estimated 3.46 t/h, high confidence"
    assert "device offline" in kinds
    subjects = dict(zip(cells(findings, COL_KIND), cells(findings, COL_SUBJECT), strict=True))
    assert subjects["leak suspected"] == "N1" and subjects["device offline"] == "PLC1"
    # a bad value with a reason counts as bad quality
    client.store.update([("HS1.FT101", Value(None, Quality.BAD, Reason.COMM_FAILURE, None, 1.0))])
    qtbot.waitUntil(lambda: "4 findings · 1 of 3" in widget.summary.text(), timeout=2000)

    client.set_values(
        _quality__HS1__TT101__frozen=False, _leak__N1__rate=0.0, _diag__PLC1__online=True
    )
    qtbot.waitUntil(lambda: findings.rowCount() == 1, timeout=2000)
    assert cells(findings, COL_KIND) == ["plausibility rule failed"]


def test_services_show_historian_and_database_state_and_a_missing_publisher(
    screen: tuple[DiagnosticsScreen, DiagnosticsClient, Refresher], qtbot: QtBot
) -> None:
    widget, client, _ = screen
    services = widget.services
    client.set_values(
        _diag__history__online=True,
        _diag__history__queue_fill=12.345,
        _diag__history__written=1500,
        _diag__history__dropped=0,
        _diag__database__online=False,
        _diag__database__journal_queue=42,
    )
    qtbot.waitUntil(lambda: services.text("_diag.history.written") == "1500", timeout=2000)
    assert services.text("_diag.history.online") == "writing"
    assert services.text("_diag.history.queue_fill") == "12.3"
    assert services.text("_diag.database.online") == "NOT WRITING"
    assert services.text("_diag.database.journal_queue") == "42"
    assert services.text("_diag.publisher.connected") == "", "this project has no publisher"
    client.store.update(
        [("_diag.history.written", Value(None, Quality.BAD, Reason.STALE, None, 1.0))]
    )
    qtbot.waitUntil(lambda: services.text("_diag.history.written") == "BAD (stale)", timeout=2000)


def test_a_hidden_screen_skips_batches_and_catches_up_when_shown(
    screen: tuple[DiagnosticsScreen, DiagnosticsClient, Refresher], qtbot: QtBot
) -> None:
    widget, client, refresher = screen
    widget.hide()
    client.set_values(_quality__HS1__TT101__spike=True)
    ticks = refresher.ticks
    qtbot.waitUntil(lambda: refresher.ticks > ticks + 2, timeout=2000)
    assert widget.findings.rowCount() == 0, "nothing done while hidden"
    widget.show()
    assert cells(widget.findings, COL_KIND) == ["spike"]


def test_everything_is_translated_to_chinese(
    screen: tuple[DiagnosticsScreen, DiagnosticsClient, Refresher], qtbot: QtBot
) -> None:
    widget, client, _ = screen
    client.set_values(
        _quality__HS1__TT101__range=True,
        _leak__N1__rate=1.0,
        _leak__N1__confidence="medium",
        _diag__PLC1__online=False,
        _diag__history__online=False,
    )
    qtbot.waitUntil(lambda: widget.findings.rowCount() == 3, timeout=2000)
    i18n.clear_missing()
    i18n.set_language("zh_CN")
    assert widget.devices_title.text() == "设备"
    horizontal = Qt.Orientation.Horizontal
    headers = [
        widget.findings.headerData(c, horizontal) for c in range(widget.findings.columnCount())
    ]
    assert all(h and not h.isascii() for h in headers), headers
    kinds = cells(widget.findings, COL_KIND)
    assert "超出量程" in kinds and "疑似泄漏" in kinds
    assert "中" in cells(widget.findings, COL_DETAIL)[kinds.index("疑似泄漏")]
    for column in range(widget.devices.columnCount()):
        assert not widget.devices.headerData(column, horizontal).isascii()
        for row in range(widget.devices.rowCount()):
            widget.devices.index(row, column).data()
    assert i18n.missing() == set()
    i18n.set_language("en")
    assert widget.devices_title.text() == "Devices"


# ---- against the simulator ---------------------------------------------------------------


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InProcessClient]:
    monkeypatch.setenv("CONDUIT_HOME", str(tmp_path / "home"))
    client = connect(demo_copy(tmp_path), simulate=True)
    yield client
    client.close()


@pytest.mark.slow
def test_the_simulated_plant_online_then_a_substation_offline_and_a_transmitter_out_of_range(
    demo: InProcessClient, qtbot: QtBot
) -> None:
    from drivers.sim.faults import Offline, Spike  # the test provokes field failures

    context = AppContext(demo, Refresher(demo, interval_ms=100))
    widget = DiagnosticsScreen(context)
    qtbot.addWidget(widget)
    refresher = context.refresher
    refresher.setParent(widget)  # stops with the widget if the test fails
    refresher.subscribe(widget.apply)
    widget.show()
    refresher.start()
    model = widget.devices
    heating = [f"PLC_{s}" for s in ("HS1", "SS1", "SS2", "SS3", "SS4")]

    def row(device: str) -> int:
        return cells(model, COL_DEVICE).index(device)

    def online_with_times() -> bool:
        shown = cells(model, COL_DEVICE)
        return all(
            d in shown
            and model.index(row(d), COL_STATE).data() == "online"
            and model.index(row(d), COL_RESPONSE).data()
            for d in (*heating, "GS1")
        )

    qtbot.waitUntil(online_with_times, timeout=20000)
    assert float(model.index(row("PLC_SS1"), COL_RESPONSE).data()) > 0
    assert model.index(row("PLC_SS1"), COL_PROTOCOL).data() == "Modbus TCP"
    assert model.index(row("GS1"), COL_PROTOCOL).data() == "OPC UA"

    simulation = demo.station.simulation
    assert simulation is not None and simulation.heating is not None
    plant = simulation.heating.plant
    simulation.call(plant.faults.add, Offline("SS4"))
    # SS1.FT201 reads 100 kg/s off in every sample: outside its range 0..60
    simulation.call(plant.faults.add, Spike("SS1.FT201", magnitude=100.0, probability=1.0))
    try:
        qtbot.waitUntil(lambda: "PLC_SS4" in model.offline(), timeout=15000)
        assert model.index(row("PLC_SS4"), COL_STATE).data() == "OFFLINE"
        assert model.index(row("PLC_SS4"), COL_ERROR).data(), "the last error is shown"
        assert model.index(row("PLC_SS4"), COL_STATE).data(8) == theme.FAULT
        assert model.index(row("PLC_SS1"), COL_STATE).data() == "online"

        def out_of_range() -> bool:
            subjects = cells(widget.findings, COL_SUBJECT)
            kinds = cells(widget.findings, COL_KIND)
            return ("SS1.FT201", "out of range") in set(zip(subjects, kinds, strict=True))

        qtbot.waitUntil(out_of_range, timeout=15000)
        qtbot.waitUntil(lambda: widget.bad_count > 0, timeout=5000)
        assert widget.services.text("_diag.history.online") == "writing"
        assert widget.services.text("_diag.database.online") == "writing"
    finally:
        simulation.call(plant.faults.remove, "offline:SS4")
        simulation.call(plant.faults.remove, "spike:SS1.FT201")
    qtbot.waitUntil(lambda: "PLC_SS4" not in model.offline(), timeout=20000)
    refresher.stop()

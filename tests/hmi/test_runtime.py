"""Runtime against a real pymodbus server: scaling, calcs, quality, link loss, writes, diag."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.modbus.codec import encode
from hmi.project import load_project
from hmi.runtime import RequestError
from hmi.station import Station
from hmi.tags import Quality, Reason
from tests.conftest import LoopThread, wait_until
from tests.drivers.conftest import ModbusTestServer


def write_project(root: Path, port: int) -> Path:
    (root / "project.toml").write_text('[project]\nname = "Runtime test"\n[scan]\nfast = "100ms"\n')
    (root / "devices.toml").write_text(
        textwrap.dedent(f"""\
        [PLC1]
        driver = "modbus"
        host = "127.0.0.1"
        port = {port}
        timeout = "300ms"
        reconnect_min = "100ms"
        reconnect_max = "500ms"
        """)
    )
    (root / "tags.toml").write_text(
        textwrap.dedent("""\
        [[tag]]
        name = "S.TT1"
        address = "modbus://PLC1/1/hr/0?type=float32&order=CDAB"
        unit = "°C"
        scan = "fast"

        [[tag]]
        name = "S.TT2"
        address = "modbus://PLC1/1/hr/2?type=int16"
        scale = 0.1
        unit = "°C"
        scan = "fast"
        range = [-50, 50]

        [[tag]]
        name = "S.PUMP"
        address = "modbus://PLC1/1/co/3"
        scan = "fast"
        writable = true

        [[tag]]
        name = "S.SP"
        address = "modbus://PLC1/1/hr/10?type=float32"
        scan = "fast"
        writable = true

        [[tag]]
        name = "S.DT"
        expr = "S.TT1 - S.TT2 if S.PUMP else 0.0"
        unit = "K"
        """)
    )
    return root


@pytest.fixture
def station(tmp_path: Path, plc: ModbusTestServer) -> Iterator[Station]:
    st = Station(load_project(write_project(tmp_path, plc.port)))
    st.start()
    yield st
    st.stop()


def value(st: Station, name: str) -> object:
    return st.runtime.store.get(name).value


def test_values_are_scaled_and_calc_tags_follow_their_inputs(station: Station) -> None:
    wait_until(lambda: station.runtime.store.get("S.DT").good, 5, "calc tag good")
    assert value(station, "S.TT1") == pytest.approx(72.5)
    assert value(station, "S.TT2") == pytest.approx(-12.3)
    assert value(station, "S.PUMP") is True
    assert value(station, "S.DT") == pytest.approx(72.5 + 12.3)
    assert station.runtime.store.get("S.TT1").recv_ts > 0


def test_out_of_range_is_bad_and_carries_no_number(
    station: Station, plc: ModbusTestServer, peer_loop: LoopThread
) -> None:
    wait_until(lambda: station.runtime.store.get("S.TT2").good, 5)
    peer_loop.call(plc.set(1, "hr", 2, encode(999, "int16")))  # 99.9 °C, outside [-50, 50]
    wait_until(lambda: station.runtime.store.get("S.TT2").reason is Reason.OUT_OF_RANGE, 5)
    assert value(station, "S.TT2") is None
    assert station.runtime.store.get("S.DT").quality is Quality.BAD  # worst of its inputs


def test_link_loss_marks_tags_and_calcs_bad_then_recovers(
    station: Station, plc: ModbusTestServer, peer_loop: LoopThread
) -> None:
    store = station.runtime.store
    wait_until(lambda: store.get("S.DT").good and store.get("_diag.PLC1.online").value is True, 5)
    peer_loop.call(plc.stop())
    wait_until(lambda: store.get("S.TT1").reason is Reason.COMM_FAILURE, 3, "comm_failure")
    assert store.get("S.TT1").value is None
    assert store.get("S.DT").quality is Quality.BAD
    assert store.get("S.DT").reason is Reason.COMM_FAILURE
    wait_until(lambda: store.get("_diag.PLC1.online").value is False, 3, "diag offline")
    peer_loop.call(plc.start())
    wait_until(lambda: store.get("S.DT").good, 5, "recovered")
    wait_until(lambda: store.get("_diag.PLC1.online").value is True, 3, "diag online")
    assert store.get("_diag.PLC1.reconnects").value >= 1


def test_write_reaches_the_device_and_reads_back(
    station: Station, plc: ModbusTestServer, peer_loop: LoopThread
) -> None:
    wait_until(lambda: station.runtime.store.get("S.SP").good, 5)
    result = station.runtime.call(station.runtime.write("S.SP", 55.25)).result(5)
    assert result.ok, result.error
    assert peer_loop.call(plc.get(1, "hr", 10, 2)) == encode(55.25, "float32")
    wait_until(lambda: value(station, "S.SP") == pytest.approx(55.25), 3)
    result = station.runtime.call(station.runtime.write("S.PUMP", False)).result(5)
    assert result.ok
    wait_until(lambda: value(station, "S.DT") == 0.0, 3, "calc follows the pump")


def test_writing_a_read_only_or_unknown_tag_is_refused(station: Station) -> None:
    with pytest.raises(RequestError, match="not writable"):
        station.runtime.call(station.runtime.write("S.TT1", 1.0)).result(5)
    with pytest.raises(RequestError, match="unknown tag"):
        station.runtime.call(station.runtime.write("NOPE", 1.0)).result(5)


def test_changes_since_reports_each_change_once(station: Station) -> None:
    store = station.runtime.store
    wait_until(lambda: store.get("S.DT").good, 5)
    version, first = store.changes_since(0)
    assert {"S.TT1", "S.TT2", "S.PUMP", "S.DT", "_diag.PLC1.online"} <= set(first)
    # nothing changes on the device: later pulls only see the periodic diagnostics
    _, later = store.changes_since(version)
    assert not {"S.TT1", "S.TT2", "S.PUMP", "S.DT"} & set(later)


def test_tags_sharing_an_address_share_one_point_at_the_fastest_scan(tmp_path: Path) -> None:
    from hmi.runtime import Runtime

    root = write_project(tmp_path, 502)
    with (root / "tags.toml").open("a") as f:
        f.write('\n[[tag]]\nname = "S.TT1_SLOW"\n')
        f.write('address = "modbus://PLC1/1/hr/0?type=float32&order=CDAB"\nscan = "slow"\n')
    runtime = Runtime(load_project(root))
    points = [p for p in runtime._points["PLC1"] if p.key.endswith("hr/0?type=float32&order=CDAB")]
    assert len(points) == 1
    assert points[0].scan == pytest.approx(0.1)  # "fast" of this project, not "slow"

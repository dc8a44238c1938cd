"""The publisher against a real mosquitto and a real Modbus server: JSON, store and forward.

A `Ticker` changes a holding register at a known rate; the runtime polls it at 100 ms, so about
ten change batches a second reach the publisher. A plain paho `Subscriber` with a persistent
session (the broker keeps it across its own restart) records every message.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import json
import logging
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hmi.project import load_project
from hmi.station import Station
from tests.conftest import LoopThread, wait_until
from tests.drivers.conftest import ModbusTestServer
from tests.mosquitto import Mosquitto, mosquitto_fixture  # noqa: F401

pytestmark = pytest.mark.slow


class Ticker:
    """Counts holding register 0 of unit 1 up every `period` seconds (the data source)."""

    def __init__(self, plc: ModbusTestServer, peer: LoopThread, period: float = 0.05) -> None:
        self.plc, self.peer, self.period = plc, peer, period
        self.value = 0
        self.running = False  # changed only on the peer loop, between two ticks
        self._future: concurrent.futures.Future[None] | None = None

    async def _run(self) -> None:
        while True:
            if self.running:
                self.value += 1
                await self.plc.set(1, "hr", 0, [self.value])
            await asyncio.sleep(self.period)

    async def _switch(self, running: bool) -> None:
        self.running = running

    def start(self) -> None:
        self.peer.call(self._switch(True))
        if self._future is None:
            self._future = asyncio.run_coroutine_threadsafe(self._run(), self.peer.loop)

    def pause(self, station: Station | None = None) -> None:
        """Stop counting; with `station`, wait until its runtime has seen the last count."""
        self.peer.call(self._switch(False))
        if station is not None:
            store = station.runtime.store
            wait_until(lambda: store.get("S.CNT").value == self.value, 5, "the last count")

    def close(self) -> None:
        if self._future is not None:
            self._future.cancel()


class Subscriber:
    """A plain paho client that records every message on `topic` (persistent session, QoS 1)."""

    def __init__(self, port: int, topic: str, client_id: str = "test-subscriber") -> None:
        self.topic = topic
        self.messages: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False
        )
        self.client.reconnect_delay_set(0.05, 0.3)
        self.client.on_connect = self._connected
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        wait_until(self.subscribed.is_set, 10, "subscribed")

    def _connected(self, client: paho.Client, *_: Any) -> None:
        client.subscribe(self.topic, 1)

    def _message(self, _client: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((message.topic, bytes(message.payload)))

    def received(self, prefix: str = "") -> list[tuple[str, bytes]]:
        with self.lock:
            return [(t, p) for t, p in self.messages if t.startswith(prefix)]

    def sync(self) -> None:
        """Round trip to the broker: every PUBACK we owed it has been processed."""
        info = self.client.publish("test/sync", b"", qos=1)
        wait_until(info.is_published, 10, "sync PUBACK")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def write_project(root: Path, plc_port: int, broker_port: int, publish: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "project.toml").write_text(
        '[project]\nname = "Publish test"\n[scan]\nfast = "100ms"\n\n[publish]\n'
        'device = "BROKER"\n' + textwrap.dedent(publish)
    )
    (root / "devices.toml").write_text(
        textwrap.dedent(f"""\
        [PLC1]
        driver = "modbus"
        port = {plc_port}
        timeout = "300ms"

        [BROKER]
        driver = "mqtt"
        port = {broker_port}
        reconnect_min = "50ms"
        reconnect_max = "300ms"
        connect_timeout = "1s"
        """)
    )
    (root / "tags.toml").write_text(
        textwrap.dedent("""\
        [[tag]]
        name = "S.CNT"
        address = "modbus://PLC1/1/hr/0"
        scan = "fast"

        [[tag]]
        name = "S.TEMP"
        address = "modbus://PLC1/1/hr/1?type=int16"
        scale = 0.1
        unit = "°C"
        scan = "fast"

        [[tag]]
        name = "OTHER.X"
        address = "modbus://PLC1/1/hr/2"
        scan = "fast"
        """)
    )
    return root


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's data folder (the spool lives under it)."""
    folder = tmp_path / "home"
    monkeypatch.setenv("CONDUIT_HOME", str(folder))
    return folder


@pytest.fixture
def plc(peer_loop: LoopThread, port: int) -> Iterator[ModbusTestServer]:
    server = ModbusTestServer(port)
    peer_loop.call(server.start())
    peer_loop.call(server.set(1, "hr", 1, [215]))  # S.TEMP = 21.5
    yield server
    if server.running:
        peer_loop.call(server.stop())


@pytest.fixture
def ticker(plc: ModbusTestServer, peer_loop: LoopThread) -> Iterator[Ticker]:
    t = Ticker(plc, peer_loop)
    yield t
    t.close()


def diag(station: Station, field: str) -> Any:
    """A publisher diagnostics tag, refreshed now."""
    station.runtime.call(station.runtime.refresh_link_stats()).result(5)
    return station.runtime.store.get(f"_diag.publisher.{field}").value


def payloads(sub: Subscriber) -> list[dict[str, Any]]:
    return [json.loads(p) for _, p in sub.received("conduit/publish-test/values")]


def last_count(sub: Subscriber) -> Any:
    """The newest S.CNT value received (None before any)."""
    counts = [m["values"]["S.CNT"]["v"] for m in payloads(sub) if "S.CNT" in m["values"]]
    return counts[-1] if counts else None


def test_values_are_published_as_json_in_sequence(
    tmp_path: Path, home: Path, plc: ModbusTestServer, ticker: Ticker, mosquitto: Mosquitto
) -> None:
    root = write_project(tmp_path / "p", plc.port, mosquitto.port, 'tags = ["S.*"]\n')
    sub = Subscriber(mosquitto.port, "conduit/#")
    station = Station(load_project(root))
    assert "_diag.publisher.queued" in station.runtime.tags  # screens can show them
    station.start()
    try:
        ticker.start()
        wait_until(lambda: len(payloads(sub)) >= 10, 10, "ten messages")
        wait_until(lambda: diag(station, "connected") is True, 5, "connected diag")
        wait_until(lambda: diag(station, "sent_per_s") > 0, 5, "a send rate")
        assert diag(station, "queued") < 5  # keeping up
        station.publisher.publish_event("alarm", {"tag": "S.TEMP", "state": "active"})  # type: ignore[union-attr]
        wait_until(lambda: sub.received("conduit/publish-test/events"), 5, "the event")
    finally:
        station.stop()
        sub.close()
    got = payloads(sub)
    assert [m["seq"] for m in got] == list(range(got[0]["seq"], got[0]["seq"] + len(got)))
    first = got[0]["values"]
    assert first["S.TEMP"] == {"v": 21.5, "q": "good", "t": first["S.TEMP"]["t"]}
    assert isinstance(first["S.TEMP"]["t"], int) and first["S.TEMP"]["t"] > 1.7e12
    assert all(set(m["values"]) <= {"S.CNT", "S.TEMP"} for m in got)  # OTHER.X, _diag.* left out
    counts = [m["values"]["S.CNT"]["v"] for m in got if "S.CNT" in m["values"]]
    assert counts == sorted(counts) and len(counts) >= 9
    event = json.loads(sub.received("conduit/publish-test/events")[0][1])
    assert event["kind"] == "alarm" and event["body"] == {"tag": "S.TEMP", "state": "active"}
    assert event["seq"] > got[0]["seq"]  # events share the spool's sequence


def test_a_bad_value_carries_no_number(
    tmp_path: Path, home: Path, plc: ModbusTestServer, peer_loop: LoopThread, mosquitto: Mosquitto
) -> None:
    root = write_project(tmp_path / "p", plc.port, mosquitto.port)
    sub = Subscriber(mosquitto.port, "conduit/#")
    station = Station(load_project(root))
    station.start()
    try:
        wait_until(lambda: any("S.TEMP" in m["values"] for m in payloads(sub)), 10, "values")
        peer_loop.call(plc.stop())
        wait_until(
            lambda: any(m["values"].get("S.TEMP", {}).get("q") == "bad" for m in payloads(sub)),
            10,
            "bad value",
        )
    finally:
        station.stop()
        sub.close()
    values = [m["values"]["S.TEMP"] for m in payloads(sub) if "S.TEMP" in m["values"]]
    bad = next(v for v in values if v["q"] == "bad")
    assert bad["v"] is None and bad["r"] == "comm_failure"


def test_an_interval_coalesces_changes(
    tmp_path: Path, home: Path, plc: ModbusTestServer, ticker: Ticker, mosquitto: Mosquitto
) -> None:
    root = write_project(tmp_path / "p", plc.port, mosquitto.port, 'interval = "400ms"\n')
    sub = Subscriber(mosquitto.port, "conduit/#")
    station = Station(load_project(root))
    station.start()
    try:
        ticker.start()
        wait_until(lambda: len(payloads(sub)) >= 4, 10, "four messages")
    finally:
        station.stop()
        sub.close()
    counts = [m["values"]["S.CNT"]["v"] for m in payloads(sub) if "S.CNT" in m["values"]]
    # 4 polls (each +2) per 400 ms but one message: the count jumps, one value per tag
    steps = [b - a for a, b in itertools.pairwise(counts[1:])]
    assert steps and min(steps) > 2


def test_store_and_forward_over_an_outage_and_an_application_restart(
    tmp_path: Path, home: Path, plc: ModbusTestServer, ticker: Ticker, mosquitto: Mosquitto
) -> None:
    root = write_project(tmp_path / "p", plc.port, mosquitto.port, 'tags = ["S.CNT"]\n')
    sub = Subscriber(mosquitto.port, "conduit/+/values")
    first = Station(load_project(root))
    first.start()
    second: Station | None = None
    try:
        ticker.start()
        wait_until(lambda: len(payloads(sub)) >= 10, 10, "live messages")
        # quiesce so no message is in flight when the broker goes down (QoS 1 is at least once)
        ticker.pause(first)
        wait_until(lambda: last_count(sub) == ticker.value, 10, "the last count received")
        spool = first.publisher.spool  # type: ignore[union-attr]
        assert spool is not None
        # the broker may deliver to the subscriber before the publisher has handled its PUBACK
        wait_until(lambda: spool.depth() == 0, 10, "the buffer to drain")
        assert payloads(sub)[-1]["seq"] == spool.last_seq
        sub.sync()
        mosquitto.stop()
        ticker.start()
        wait_until(lambda: (diag(first, "queued") or 0) >= 5, 10, "buffering")
        assert diag(first, "connected") is False
        first.stop()  # the application restarts during the outage
        second = Station(load_project(root))
        second.start()
        wait_until(lambda: (diag(second, "queued") or 0) >= 10, 10, "buffering after restart")
        mosquitto.start()  # persistence: the subscriber's session and subscription come back
        wait_until(lambda: diag(second, "connected") is True, 10, "reconnected")
        wait_until(lambda: len(payloads(sub)) >= 60, 15, "replay, then live data")
        ticker.pause(second)
        wait_until(lambda: last_count(sub) == ticker.value, 10, "everything arrived")
        spool = second.publisher.spool  # type: ignore[union-attr]
        assert spool is not None
        wait_until(lambda: spool.depth() == 0, 5, "drained")
        assert payloads(sub)[-1]["seq"] == spool.last_seq
        assert diag(second, "queued") == 0
        assert diag(second, "dropped") == 0 and diag(second, "overflow") is False
    finally:
        first.stop()
        if second is not None:
            second.stop()
        sub.close()
    seqs = [m["seq"] for m in payloads(sub)]
    assert seqs == list(range(1, len(seqs) + 1)), "every seq exactly once, in order"
    counts = [m["values"]["S.CNT"]["v"] for m in payloads(sub) if "S.CNT" in m["values"]]
    assert counts == sorted(counts)


def test_a_full_buffer_drops_the_oldest_and_raises_overflow(
    tmp_path: Path,
    home: Path,
    plc: ModbusTestServer,
    ticker: Ticker,
    mosquitto: Mosquitto,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "hmi.spool")
    root = write_project(tmp_path / "p", plc.port, mosquitto.port, 'buffer = "2kB"\n')
    sub = Subscriber(mosquitto.port, "conduit/+/values")  # its session outlives the outage
    sub.sync()
    mosquitto.stop()
    station = Station(load_project(root))
    station.start()
    try:
        ticker.start()
        wait_until(lambda: (diag(station, "dropped") or 0) > 10, 15, "drops")
        assert diag(station, "overflow") is True
        overflow = "_diag.publisher.overflow.system"  # the operator hears of it as an alarm
        assert station.alarms.view(overflow).state.value == "unack"
        spool = station.publisher.spool  # type: ignore[union-attr]
        assert spool is not None and spool.bytes() <= 2048
        ticker.pause(station)
        mosquitto.start()
        wait_until(lambda: last_count(sub) == ticker.value, 15, "the last count received")
        wait_until(lambda: spool.depth() == 0, 5, "drained")
        wait_until(lambda: diag(station, "overflow") is False, 5, "overflow cleared")
        assert station.alarms.view(overflow).state.value == "rtn_unack"
        assert diag(station, "dropped") > 10  # the count stays
        last = spool.last_seq
    finally:
        station.stop()
        sub.close()
    warnings = [r for r in caplog.records if "dropping the oldest" in r.getMessage()]
    assert len(warnings) == 1, "logged once per episode"
    seqs = [m["seq"] for m in payloads(sub)]
    assert seqs[0] > 1  # the oldest were dropped
    assert seqs == list(range(seqs[0], last + 1))  # what was kept arrives whole and in order

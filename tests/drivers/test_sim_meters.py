"""The heat meters over a real mosquitto: JSON and Sparkplug B, received by a plain paho client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from drivers.mqtt import sparkplug as spb
from drivers.sim.faults import Offline
from drivers.sim.meters_mqtt import METER_FIELDS, MeterPublisher, alias_of, json_topic
from drivers.sim.plant import Plant, PlantConfig
from drivers.sim.registers import SUBSTATIONS
from tests.mosquitto import (
    Mosquitto,
    mosquitto_fixture,  # noqa: F401 - the `mosquitto` fixture
)

T = TypeVar("T")
KEYS = {"ts", *(f.key for f in METER_FIELDS)}
NODE = "spBv1.0/HeatNet/"


def run(coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
    """Run one async test body with a hard time limit."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


class Listener:
    """A plain paho subscriber that keeps every message it receives, in order."""

    def __init__(self, port: int) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id="test-listener")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe([("conduit/demo/meters/#", 1), ("spBv1.0/#", 1)])
        self.client.loop_start()

    def _on_message(self, _c: Any, _u: Any, message: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload)))

    def take(self, prefix: str = "") -> list[tuple[str, bytes]]:
        """Messages so far whose topic starts with `prefix`."""
        with self._lock:
            return [(t, p) for t, p in self.messages if t.startswith(prefix)]

    def sparkplug(self) -> list[tuple[str, spb.Payload]]:
        """Every Sparkplug message so far, decoded (commands excluded)."""
        return [(t, spb.decode(p)) for t, p in self.take(NODE) if "/NCMD/" not in t]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def listener(mosquitto: Mosquitto) -> Iterator[Listener]:
    client = Listener(mosquitto.port)
    yield client
    client.close()


async def until(condition: Callable[[], bool], what: str, within: float = 8.0) -> None:
    """Wait (bounded) until `condition()` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def stepping(plant: Plant) -> None:
    """Step the plant like the simulator does."""
    while True:
        await asyncio.sleep(0.05)
        plant.step(0.05)


def count(listener: Listener, kind: str, device: str | None = None) -> int:
    suffix = f"/{kind}/Meters" + (f"/{device}" if device else "")
    return sum(1 for t, _ in listener.take(NODE) if t.endswith(suffix))


def check_sequence(messages: list[tuple[str, spb.Payload]]) -> None:
    """seq: 0 on NBIRTH, then +1 (mod 256) on every later message of the node; NDEATH none."""
    seq: int | None = None
    for topic, payload in messages:
        kind = topic.split("/")[2]
        if kind == "NDEATH":
            assert payload.seq is None
            continue
        if kind == "NBIRTH":
            assert payload.seq == 0, topic
        else:
            assert seq is not None, f"{topic} before NBIRTH"
            assert payload.seq == (seq + 1) % 256, (topic, payload.seq, seq)
        seq = payload.seq


def test_meters_are_published_as_json_and_sparkplug(
    mosquitto: Mosquitto, listener: Listener
) -> None:
    async def body() -> None:
        plant = Plant(PlantConfig(warmup_s=600.0), speed=60.0)
        publisher = MeterPublisher(plant, ("127.0.0.1", mosquitto.port), interval=0.1)
        await publisher.start()
        steps = asyncio.create_task(stepping(plant))
        try:
            await until(lambda: all(count(listener, "DDATA", s) >= 5 for s in SUBSTATIONS), "data")
            # a host asks for a rebirth: NBIRTH and every DBIRTH again
            request = spb.Metric(spb.REBIRTH, None, 1, spb.Boolean, True)
            listener.client.publish(
                "spBv1.0/HeatNet/NCMD/Meters", spb.encode(spb.Payload(1, None, [request]))
            )
            await until(lambda: count(listener, "NBIRTH") == 2, "a second NBIRTH")
            await until(lambda: count(listener, "DBIRTH", "SS4") == 2, "the DBIRTHs again")
            # a station offline: DDEATH, no JSON; back: DBIRTH
            fault = plant.faults.add(Offline("SS3"))
            await until(lambda: count(listener, "DDEATH", "SS3") == 1, "DDEATH of SS3")
            json_before = len(listener.take(json_topic("SS3")))
            ddata_ss1 = count(listener, "DDATA", "SS1")
            await until(lambda: count(listener, "DDATA", "SS1") >= ddata_ss1 + 3, "more data")
            assert len(listener.take(json_topic("SS3"))) == json_before
            plant.faults.remove(fault)
            await until(lambda: count(listener, "DBIRTH", "SS3") == 3, "SS3 born again")
        finally:
            steps.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await steps
            await publisher.stop()
        await until(lambda: count(listener, "NDEATH") == 1, "NDEATH on a clean stop")

    run(body())

    # JSON: one message per meter and round, sane values, time and counters moving forward
    for station in SUBSTATIONS:
        docs = [json.loads(p) for _, p in listener.take(json_topic(station))]
        assert len(docs) >= 5
        for doc in docs:
            assert set(doc) == KEYS
            assert 0 < doc["power_kw"] < 3000 and 0 < doc["flow_kg_s"] < 20
            assert 20 < doc["t_return_c"] < doc["t_supply_c"] < 130
        stamps = [d["ts"] for d in docs]
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
        for key in ("energy_kwh", "volume_m3"):
            counter = [d[key] for d in docs]
            assert counter == sorted(counter) and counter[-1] > counter[0], (station, key)

    # Sparkplug: births with names and aliases, data by alias, seq without gaps, bdSeq agrees
    messages = listener.sparkplug()
    check_sequence(messages)
    births = [p for t, p in messages if "/NBIRTH/" in t]
    deaths = [p for t, p in messages if "/NDEATH/" in t]
    bd_seq = {m.value for p in births + deaths for m in p.metrics if m.name == spb.BD_SEQ}
    assert bd_seq == {0}
    assert {m.name for m in births[0].metrics} == {spb.BD_SEQ, spb.REBIRTH}
    json_by_ts = {
        (t.rsplit("/", 1)[1], json.loads(p)["ts"]): json.loads(p)
        for t, p in listener.take("conduit/")
    }
    checked = 0
    for topic, payload in messages:
        kind, device = topic.split("/")[2], topic.split("/")[-1]
        if kind == "DBIRTH":
            assert [(m.name, m.alias) for m in payload.metrics] == [
                (f.key, alias_of(device, f.key)) for f in METER_FIELDS
            ]
        elif kind == "DDATA":
            assert all(m.name is None and m.datatype == spb.Double for m in payload.metrics)
            assert [m.alias for m in payload.metrics] == [
                alias_of(device, f.key) for f in METER_FIELDS
            ]
            twin = json_by_ts.get((device, payload.metrics[0].timestamp))
            if twin is not None:  # the same round: the same numbers
                assert [m.value for m in payload.metrics] == [twin[f.key] for f in METER_FIELDS]
                checked += 1
    assert checked >= 10


def test_the_will_announces_ndeath_when_the_link_breaks(
    mosquitto: Mosquitto, listener: Listener
) -> None:
    async def body() -> None:
        plant = Plant(PlantConfig(warmup_s=0.0))
        publisher = MeterPublisher(plant, ("127.0.0.1", mosquitto.port), interval=0.1)
        await publisher.start()
        try:
            await until(lambda: count(listener, "DDATA", "SS1") >= 1, "data")
            client = publisher._session._client  # the test breaks the link like a cable cut
            assert client is not None
            sock = client.socket()
            assert isinstance(sock, socket.socket)
            sock.shutdown(socket.SHUT_RDWR)
            await until(lambda: count(listener, "NDEATH") == 1, "NDEATH from the broker (will)")
            await until(lambda: count(listener, "NBIRTH") == 2, "NBIRTH after reconnecting")
        finally:
            await publisher.stop()

    run(body())
    messages = listener.sparkplug()
    check_sequence(messages)
    death = next(p for t, p in messages if "/NDEATH/" in t)
    assert [(m.name, m.value) for m in death.metrics] == [(spb.BD_SEQ, 0)]

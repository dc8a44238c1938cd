"""MqttDriver against a real mosquitto: JSON and plain topics, wildcards, faults, TLS, writes."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from drivers import driver_class
from drivers.base import DeviceConfig, DriverError, Point, Quality, Reason
from drivers.mqtt import driver as driver_module
from drivers.mqtt.driver import MqttDriver
from tests.conftest import free_port
from tests.drivers.conftest import Collector, run, wait_for
from tests.mosquitto import (
    Mosquitto,
    MqttPeer,
    TestCA,
    mosquitto_fixture,  # noqa: F401  (the `mosquitto` fixture)
)

FAST = {"reconnect_min": 0.02, "reconnect_max": 0.2}


def point(text: str) -> Point:
    return Point(MqttDriver.parse(text), 1.0)


def key(text: str) -> str:
    return str(MqttDriver.parse(text))


def messages(caplog: pytest.LogCaptureFixture, fragment: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("drivers") and fragment in r.getMessage()
    ]


@asynccontextmanager
async def running(
    port: int, texts: list[str], password: str | None = None, **options: Any
) -> AsyncIterator[tuple[MqttDriver, Collector]]:
    """Run an MqttDriver for BROKER1 at 127.0.0.1:`port`; on exit cancel it and check for leaks."""
    device = DeviceConfig("BROKER1", "mqtt", "127.0.0.1", port, 1.0, {**FAST, **options}, password)
    sink = Collector()
    sink.loop = asyncio.get_running_loop()
    driver = MqttDriver(device, sink)
    before = asyncio.all_tasks()
    task = asyncio.create_task(driver.run([point(t) for t in texts]))
    try:
        yield driver, sink
        assert not task.done(), "the driver ended on its own"
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        current = asyncio.current_task()
        await wait_for(
            lambda: (
                not [t for t in asyncio.all_tasks() - before if t is not current and not t.done()]
            ),
            2.0,
            "driver tasks to finish",
        )
        assert driver._session is None


def test_registered_for_both_schemes() -> None:
    assert driver_class("mqtt") is MqttDriver
    assert driver_class("spb") is MqttDriver
    with pytest.raises(DriverError, match="unknown option 'hostt'"):
        MqttDriver(DeviceConfig("B", "mqtt", options={"hostt": 1}), Collector())


def test_json_tags_on_one_topic_share_one_decode(
    mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    decodes: list[bytes] = []
    original = driver_module.parse_json
    monkeypatch.setattr(driver_module, "parse_json", lambda p: decodes.append(p) or original(p))
    tt101 = "mqtt://BROKER1/site/hs1/state?ts=/TT101/ts&quality=/TT101/q#/TT101/v"
    texts = [
        tt101,
        "mqtt://BROKER1/site/hs1/state#/TT102/v",
        "mqtt://BROKER1/site/hs1/state#/P1/run",
    ]
    texts.append("mqtt://BROKER1/site/hs1/state#/TT999/v")
    first = {
        "TT101": {"v": 21.5, "ts": 1700000000123, "q": "good"},
        "TT102": {"v": 19},
        "P1": {"run": True},
    }

    async def main() -> None:
        with MqttPeer(mosquitto.port) as peer:
            peer.publish("site/hs1/state", json.dumps(first), retain=True)  # before the driver
            async with running(mosquitto.port, texts) as (_, sink):
                await wait_for(lambda: len(sink.batches) == 1, what="the retained message")
                assert sorted(s.key for s in sink.batches[0]) == sorted(key(t) for t in texts)
                assert sink.value(key(texts[0])) == 21.5
                assert sink.latest[key(texts[0])].source_ts == 1700000000.123
                assert sink.value(key(texts[1])) == 19 and sink.value(key(texts[2])) is True
                assert sink.reason(key(texts[3])) == Reason.DECODE_ERROR  # only the missing one
                second = {
                    "TT101": {"v": 0, "ts": "2023-11-14T22:13:20Z", "q": 24},
                    "TT102": {"v": 20.5},
                }
                await asyncio.to_thread(peer.publish, "site/hs1/state", json.dumps(second))
                await wait_for(lambda: len(sink.batches) == 2, what="the second message")
                bad = sink.latest[key(texts[0])]
                assert (bad.value, bad.quality, bad.reason) == (
                    None,
                    Quality.BAD,
                    Reason.DEVICE_ERROR,
                )
                assert bad.source_ts == 1700000000.0
                assert sink.value(key(texts[1])) == 20.5
        assert len(decodes) == 2  # one JSON decode per message, not per tag

    run(main())


def test_plain_payloads(mosquitto: Mosquitto) -> None:
    texts = {
        "mqtt://BROKER1/p/num": ("21.5", 21.5),
        "mqtt://BROKER1/p/int": ("42", 42),
        "mqtt://BROKER1/p/bool": ("true", True),
        "mqtt://BROKER1/p/word": ("running", "running"),
        "mqtt://BROKER1/p/text?payload=text": ("42", "42"),
        "mqtt://BROKER1/p/whole?payload=json": ("[1]", None),  # a list is not a value
    }

    async def main() -> None:
        async with running(mosquitto.port, list(texts)) as (driver, sink):
            await wait_for(lambda: driver._session is not None and driver._session.connected)
            with MqttPeer(mosquitto.port) as peer:
                for text, (payload, _) in texts.items():
                    await asyncio.to_thread(peer.publish, MqttDriver.parse(text).path, payload)
            await wait_for(lambda: len(sink.latest) == len(texts), what="all topics")
            for text, (_, value) in texts.items():
                assert sink.value(key(text)) == value
                assert type(sink.value(key(text))) is type(value)
            assert sink.reason(key("mqtt://BROKER1/p/whole?payload=json")) == Reason.DECODE_ERROR

    run(main())


def test_many_topics_under_one_prefix_share_a_wildcard(mosquitto: Mosquitto) -> None:
    texts = [f"mqtt://BROKER1/site/hs1/TT{i}" for i in range(25)] + ["mqtt://BROKER1/site/hs2/PT1"]

    async def main() -> None:
        async with running(mosquitto.port, texts) as (driver, sink):
            await wait_for(lambda: driver._session is not None and driver._session.connected)
            assert driver._session._filters == {"site/hs1/#": 1, "site/hs2/PT1": 1}
            with MqttPeer(mosquitto.port) as peer:
                await asyncio.to_thread(peer.publish, "site/hs1/unwatched", "1")
                for i in range(25):
                    await asyncio.to_thread(peer.publish, f"site/hs1/TT{i}", str(i))
            await wait_for(lambda: len(sink.latest) == 25, what="25 values")
            assert all(sink.value(key(f"mqtt://BROKER1/site/hs1/TT{i}")) == i for i in range(25))
            assert len(sink.batches) == 25  # one batch per message; the unwatched one gave none
            assert driver.stats().requests == 26  # every message received counts

    run(main())


def test_malformed_payload_marks_only_its_points_and_logs_once(
    mosquitto: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = "mqtt://BROKER1/m/state#/a", "mqtt://BROKER1/m/state#/b"
    other = "mqtt://BROKER1/m/other#/a"

    async def main() -> None:
        async with running(mosquitto.port, [a, b, other]) as (driver, sink):
            await wait_for(lambda: driver._session is not None and driver._session.connected)
            with MqttPeer(mosquitto.port) as peer:

                async def send(topic: str, payload: str, count: int) -> None:
                    await asyncio.to_thread(peer.publish, topic, payload)
                    await wait_for(lambda: len(sink.batches) == count, what=f"message {count}")

                await send("m/other", '{"a": 5}', 1)
                await send("m/state", "{not json", 2)
                await send("m/state", "{still not json", 3)
                assert sink.all([key(a), key(b)], Reason.DECODE_ERROR)
                assert sink.value(key(other)) == 5  # another topic is not touched
                await send("m/state", '{"a": 1}', 4)
                assert sink.value(key(a)) == 1 and sink.reason(key(b)) == Reason.DECODE_ERROR
                await send("m/state", '{"a": 2, "b": 3}', 5)
                assert sink.value(key(a)) == 2 and sink.value(key(b)) == 3
            stats = driver.stats()
            assert stats.errors == 3 and stats.online

    with caplog.at_level(logging.INFO):
        run(main())
    assert len(messages(caplog, "invalid JSON")) == 1  # two bad messages, one line
    assert len(messages(caplog, "no /b in the payload")) == 1
    assert len(messages(caplog, "decodes again")) == 2


def test_broker_stop_and_restart(mosquitto: Mosquitto, caplog: pytest.LogCaptureFixture) -> None:
    texts = ["mqtt://BROKER1/r/a", "mqtt://BROKER1/r/b#/v"]
    keys = [key(t) for t in texts]

    async def main() -> None:
        with MqttPeer(mosquitto.port) as peer:
            peer.publish("r/a", "1.5", retain=True)
            peer.publish("r/b", '{"v": 2}', retain=True)
        async with running(mosquitto.port, texts) as (driver, sink):
            await wait_for(lambda: sink.all(keys, Reason.NONE), what="good values")
            mosquitto.stop()
            await wait_for(lambda: sink.all(keys, Reason.COMM_FAILURE), what="comm failure")
            assert [s.key for s in sink.batches[-1]] == keys  # all points, in one batch
            assert not driver.stats().online
            mosquitto.start()  # retained messages were saved by the broker
            await wait_for(lambda: sink.all(keys, Reason.NONE), 10, what="good again")
            assert sink.value(keys[0]) == 1.5 and sink.value(keys[1]) == 2
            stats = driver.stats()
            assert stats.online and stats.reconnects == 1 and stats.loss_pct > 0

    with caplog.at_level(logging.INFO):
        run(main())
    assert len(messages(caplog, "connection lost")) == 1
    assert len(messages(caplog, "connected to")) == 2
    # one line for the outage: "still cannot connect" while it lasts is not news
    warnings = [
        r for r in caplog.records if r.name.startswith("drivers") and r.levelno >= logging.WARNING
    ]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]


def test_tls_with_the_test_ca_and_a_client_without_one(tmp_path: Path) -> None:
    ca = TestCA(tmp_path / "ca")
    broker = Mosquitto(free_port(), tls=ca)
    broker.start()
    text = "mqtt://BROKER1/tls/a"

    async def main() -> None:
        with MqttPeer(broker.port, ca=ca.ca) as peer:
            peer.publish("tls/a", "7", retain=True)
        async with running(broker.port, [text], tls=True, ca=str(ca.ca)) as (_, sink):
            await wait_for(lambda: sink.value(key(text)) == 7, what="a value over TLS")
        async with running(broker.port, [text], tls=True) as (driver, sink):
            await wait_for(lambda: sink.reason(key(text)) == Reason.COMM_FAILURE, what="bad")
            last = driver.stats().last_error
            assert "not trusted" in last and "set the 'ca' option" in last, last

    try:
        run(main())
    finally:
        broker.close()


def test_wrong_password_is_a_clear_error(caplog: pytest.LogCaptureFixture) -> None:
    broker = Mosquitto(free_port(), passwords={"hmi": "right"})
    broker.start()
    text = "mqtt://BROKER1/x"

    async def main() -> None:
        async with running(broker.port, [text], "wrong", username="hmi") as (driver, sink):
            await wait_for(
                lambda: driver._session is not None and driver._session._backoff.attempt >= 3
            )
            assert driver.stats().last_error.startswith("BROKER1: the broker refused the login")
            assert sink.reason(key(text)) == Reason.COMM_FAILURE

    try:
        with caplog.at_level(logging.INFO):
            run(main())
    finally:
        broker.close()
    assert len(messages(caplog, "refused the login")) == 1
    assert not [r for r in caplog.records if r.exc_info]


def test_writes_and_set_points(mosquitto: Mosquitto) -> None:
    valve = "mqtt://BROKER1/v/pos?set=v/pos/set"
    readonly = "mqtt://BROKER1/v/ro"

    async def main() -> None:
        async with running(mosquitto.port, [valve, readonly]) as (driver, sink):
            await wait_for(lambda: driver._session is not None and driver._session.connected)
            with MqttPeer(mosquitto.port, ("v/#",)) as peer:
                peer.publish("v/new", "3.5", retain=True)
                for value, wire in ((55.5, b"55.5"), (True, b"true"), ("open", b"open"), (7, b"7")):
                    result = await driver.write(MqttDriver.parse(valve), value)
                    assert result.ok, result.error
                    await wait_for(lambda w=wire: w in peer.payloads("v/pos/set"), what=str(wire))
                result = await driver.write(MqttDriver.parse(readonly), 1)
                assert not result.ok and "read-only (no set= topic" in result.error
                result = await driver.write(MqttDriver.parse(valve), float("nan"))
                assert not result.ok and "finite" in result.error
                # a new point while running: subscribed, its retained value arrives
                await driver.set_points(
                    [point(valve), point(readonly), point("mqtt://BROKER1/v/new")]
                )
                await wait_for(
                    lambda: sink.value(key("mqtt://BROKER1/v/new")) == 3.5, what="new point"
                )
                await driver.set_points([point(valve)])
                assert driver._session._filters == {"v/pos": 1}
            mosquitto.stop()
            await wait_for(lambda: not driver.stats().online, what="offline")
            result = await driver.write(MqttDriver.parse(valve), 1)
            assert not result.ok and "not connected" in result.error
            assert driver.stats().requests >= 4

    run(main())

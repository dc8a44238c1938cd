"""MqttSession against a real mosquitto: acknowledged publish, reconnect, TLS, refused logins."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path
from typing import Any

import pytest

from drivers.base import DeviceConfig, DriverError
from drivers.mqtt.session import MqttNotConnected, MqttSession
from tests.conftest import free_port
from tests.drivers.conftest import run, wait_for
from tests.mosquitto import (
    Mosquitto,
    MqttPeer,
    TestCA,
    mosquitto_fixture,  # noqa: F401  (the `mosquitto` fixture)
)

FAST = {"reconnect_min": 0.02, "reconnect_max": 0.2}


def device(port: int, password: str | None = None, **options: Any) -> DeviceConfig:
    return DeviceConfig("BROKER1", "mqtt", "127.0.0.1", port, 1.0, {**FAST, **options}, password)


def drivers_log(caplog: pytest.LogCaptureFixture, fragment: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("drivers") and fragment in r.getMessage()
    ]


def test_publish_returns_after_puback_and_raises_when_the_broker_goes(mosquitto: Mosquitto) -> None:
    async def main() -> None:
        session = MqttSession(device(mosquitto.port), client_id="t-session")
        with pytest.raises(MqttNotConnected):  # not started: not connected
            await session.publish("a", b"1")
        await session.start()
        try:
            assert await session.wait_connected(5)
            with MqttPeer(mosquitto.port, ("t/#",)) as peer:
                await session.publish("t/retained", b"21.5", 1, retain=True)
                await session.publish("t/q0", b"x", 0)
                await wait_for(lambda: len(peer.received) == 2, what="both messages")
                # a frozen broker sends no PUBACK: publish must not return before it does
                mosquitto.freeze()
                try:
                    pending = asyncio.ensure_future(session.publish("t/late", b"2"))
                    done, _ = await asyncio.wait({pending}, timeout=0.3)
                    assert not done, "publish returned without a PUBACK"
                finally:
                    mosquitto.thaw()
                await asyncio.wait_for(pending, 5)
                await wait_for(lambda: peer.payloads("t/late") == [b"2"], what="late message")
            # the link drops while a publish waits for its PUBACK (a frozen broker never acks)
            mosquitto.freeze()
            pending = asyncio.ensure_future(session.publish("t/lost", b"3"))
            done, _ = await asyncio.wait({pending}, timeout=0.1)
            assert not done
            mosquitto.kill()
            with pytest.raises(MqttNotConnected, match="lost"):
                await asyncio.wait_for(pending, 5)
            await wait_for(lambda: not session.connected, what="session down")
            with pytest.raises(MqttNotConnected, match="not connected"):
                await session.publish("t/x", b"4")
            assert "BROKER1: " in session.last_error
        finally:
            await session.stop()
        assert session._client is None and not session.connected

    run(main())


def test_callbacks_on_the_loop_and_resubscribe_after_restart(mosquitto: Mosquitto) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        got: list[tuple[str, bytes]] = []
        states: list[tuple[bool, str]] = []

        def on_message(topic: str, payload: bytes) -> None:
            assert asyncio.get_running_loop() is loop
            got.append((topic, payload))

        def on_state(up: bool, reason: str) -> None:
            assert asyncio.get_running_loop() is loop
            states.append((up, reason))

        session = MqttSession(
            device(mosquitto.port), client_id="t-cb", on_message=on_message, on_state=on_state
        )
        await session.subscribe([("site/#", 1)])  # before start: remembered
        await session.start()
        try:
            with MqttPeer(mosquitto.port) as peer:
                await wait_for(lambda: session.connected, what="connected")
                await asyncio.to_thread(peer.publish, "site/a", b"1", 1, True)
                await wait_for(lambda: ("site/a", b"1") in got, what="first message")
            mosquitto.restart()
            await wait_for(lambda: states.count((True, "")) == 2, what="reconnected")
            # re-subscribed by itself: the retained message comes again, then a new one
            await wait_for(lambda: got.count(("site/a", b"1")) == 2, what="retained again")
            with MqttPeer(mosquitto.port) as peer:
                await asyncio.to_thread(peer.publish, "site/b", b"2")
                await wait_for(lambda: ("site/b", b"2") in got, what="message after restart")
            assert states[1][0] is False and states[1][1]
        finally:
            await session.stop()

    run(main())


def test_tls_with_the_test_ca_and_without_a_ca(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ca = TestCA(tmp_path / "ca")
    broker = Mosquitto(free_port(), tls=ca)
    broker.start()

    async def main() -> None:
        good = MqttSession(device(broker.port, tls=True, ca=str(ca.ca)), client_id="t-tls")
        bare = MqttSession(device(broker.port, tls=True), client_id="t-tls-noca")
        missing = MqttSession(
            device(broker.port, tls=True, ca=str(tmp_path / "nope.pem")), client_id="t3"
        )
        for s in (good, bare, missing):
            await s.start()
        try:
            assert await good.wait_connected(5)
            await good.publish("tls/x", b"1")
            await wait_for(lambda: "not trusted" in bare.last_error, what="TLS failure")
            assert bare.last_error.startswith("BROKER1: TLS: the certificate of 127.0.0.1:")
            assert "set the 'ca' option" in bare.last_error
            await wait_for(
                lambda: "cannot read the ca file" in missing.last_error, what="missing CA file"
            )
            assert not bare.connected and not missing.connected
        finally:
            for s in (good, bare, missing):
                await s.stop()

    try:
        with caplog.at_level(logging.INFO):
            run(main())
    finally:
        broker.close()
    assert len(drivers_log(caplog, "not trusted")) == 1  # retried, logged once


def test_refused_login_is_one_clear_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    broker = Mosquitto(free_port(), passwords={"hmi": "s3cret"})
    broker.start()

    async def main() -> None:
        wrong = MqttSession(device(broker.port, "wrong", username="hmi"), client_id="t-wrong")
        right = MqttSession(device(broker.port, "s3cret", username="hmi"), client_id="t-right")
        await wrong.start()
        await right.start()
        try:
            assert await right.wait_connected(5)
            await wait_for(lambda: wrong._backoff.attempt >= 3, what="several refused attempts")
            # mosquitto 2.0 answers a wrong password with "Not authorized" (MQTT 5 and 3.1.1)
            assert wrong.last_error.startswith("BROKER1: the broker refused the login")
            assert not wrong.connected
        finally:
            await wrong.stop()
            await right.stop()

    try:
        with caplog.at_level(logging.INFO):
            run(main())
    finally:
        broker.close()
    assert len(drivers_log(caplog, "refused the login")) == 1
    assert not [r for r in caplog.records if r.exc_info]


def test_mqtt_311_and_bad_options(mosquitto: Mosquitto) -> None:
    async def main() -> None:
        session = MqttSession(device(mosquitto.port, mqtt_version="3.1.1"), client_id="t-311")
        await session.start()
        try:
            assert await session.wait_connected(5)
            await session.publish("v3/x", b"1")
        finally:
            await session.stop()

    run(main())
    for options, message in (
        ({"mqtt_version": "4"}, "mqtt_version"),
        ({"qos": 3}, "qos"),
        ({"keepalive": "soon"}, "keepalive"),
        ({"tls": "yes"}, "true or false"),
        ({"reconnect_min": 5, "reconnect_max": 1}, "reconnect_max"),
    ):
        with pytest.raises(DriverError, match=message):
            MqttSession(device(1, **options), client_id="x")


def test_down_broker_never_raises_and_stop_is_prompt() -> None:
    async def main() -> None:
        session = MqttSession(device(free_port()), client_id="t-down")
        await session.start()
        await wait_for(lambda: "connection refused" in session.last_error, what="refused")
        await asyncio.wait_for(session.stop(), 2)

    run(main())


def test_will_is_published_when_the_link_dies_without_a_goodbye(mosquitto: Mosquitto) -> None:
    async def main() -> None:
        with MqttPeer(mosquitto.port, ("host/state",)) as peer:
            will = ("host/state", b"offline", 1, True)
            session = MqttSession(device(mosquitto.port), client_id="t-will", will=will)
            await session.start()
            try:
                assert await session.wait_connected(5)
                client = session._client
                assert client is not None
                sock = client.socket()
                assert sock is not None
                sock.shutdown(socket.SHUT_RDWR)  # the link breaks: no DISCONNECT is sent
                await wait_for(lambda: peer.payloads("host/state") == [b"offline"], what="the will")
                await wait_for(
                    lambda: session.connected and session._client is not client, what="back"
                )
            finally:
                await session.stop()
            assert peer.payloads("host/state") == [b"offline"]  # a clean stop sends no will

    run(main())

"""MqttDriver as a Sparkplug B host against mosquitto: births, data, deaths, rebirth, DCMD."""

from __future__ import annotations

import asyncio
import json

from drivers.base import Quality, Reason
from drivers.mqtt import sparkplug as spb
from drivers.mqtt.driver import MqttDriver
from tests.drivers.conftest import run, wait_for
from tests.drivers.test_mqtt_driver import key, running
from tests.mosquitto import (
    Mosquitto,
    MqttPeer,
    mosquitto_fixture,  # noqa: F401  (the `mosquitto` fixture)
)

G, E, D = "HeatNet", "Station1", "HS1"
TT101 = f"spb://BROKER1/{G}/{E}/{D}#TT101"
PUMP = f"spb://BROKER1/{G}/{E}/{D}#Pump"
UPTIME = f"spb://BROKER1/{G}/{E}#Uptime"
NCMD = spb.topic(G, "NCMD", E)
DCMD = spb.topic(G, "DCMD", E, D)


class EdgeNode:
    """A test edge node: publishes births, data and deaths with its own sequence numbers."""

    def __init__(self, peer: MqttPeer) -> None:
        self.peer = peer
        self.seq = 0

    async def send(self, kind: str, metrics: list[spb.Metric], *, seq: int | None = None) -> None:
        device = D if kind.startswith("D") else None
        if kind == "NBIRTH":
            self.seq = 0
            metrics = [spb.Metric(spb.BD_SEQ, None, None, spb.UInt64, 1), *metrics]
        number = None if kind == "NDEATH" else (self.seq if seq is None else seq)
        payload = spb.encode(spb.Payload(1700000000000, number, metrics))
        if number is not None:
            self.seq = (number + 1) % 256
        await asyncio.to_thread(self.peer.publish, spb.topic(G, kind, E, device), payload, 0)

    async def births(self, temperature: float) -> None:
        await self.send("NBIRTH", [spb.Metric("Uptime", 1, None, spb.Int64, 100)])
        await self.send(
            "DBIRTH",
            [
                spb.Metric("TT101", 2, 1700000000500, spb.Float, temperature),
                spb.Metric("Pump", 3, None, spb.Boolean, False),
            ],
        )


def rebirths(peer: MqttPeer) -> int:
    count = 0
    for raw in peer.payloads(NCMD):
        metrics = spb.decode(raw).metrics
        count += any(m.name == spb.REBIRTH and m.value is True for m in metrics)
    return count


def test_births_data_deaths_rebirth_and_commands(mosquitto: Mosquitto) -> None:
    texts = [TT101, PUMP, UPTIME]
    keys = [key(t) for t in texts]

    async def main() -> None:
        with MqttPeer(mosquitto.port, (NCMD, DCMD)) as peer:
            node = EdgeNode(peer)
            async with running(mosquitto.port, texts) as (driver, sink):
                # a host that comes online asks the nodes it watches for their births
                await wait_for(lambda: rebirths(peer) == 1, what="rebirth request on connect")
                await node.births(60.0)
                await wait_for(lambda: sink.all(keys, Reason.NONE), what="births")
                assert sink.value(keys[0]) == 60.0 and sink.value(keys[1]) is False
                assert sink.latest[keys[0]].source_ts == 1700000000.5
                assert sink.value(keys[2]) == 100
                # data by alias, without a data type (the birth gave it)
                await node.send("DDATA", [spb.Metric(None, 2, 1700000001000, spb.Unknown, 61.5)])
                await wait_for(lambda: sink.value(keys[0]) == 61.5, what="DDATA by alias")
                assert sink.latest[keys[0]].source_ts == 1700000001.0
                # a command to a device metric goes out as DCMD with the birth's data type
                result = await driver.write(MqttDriver.parse(PUMP), 1)
                assert result.ok, result.error
                await wait_for(lambda: len(peer.payloads(DCMD)) == 1, what="DCMD")
                command = spb.decode(peer.payloads(DCMD)[0]).metrics[0]
                assert (command.name, command.datatype, command.value) == (
                    "Pump",
                    spb.Boolean,
                    True,
                )
                # a sequence gap: rebirth request, values uncertain until the new birth
                await node.send(
                    "DDATA", [spb.Metric(None, 2, None, spb.Float, 62.0)], seq=node.seq + 3
                )
                await wait_for(lambda: rebirths(peer) == 2, what="rebirth request after a gap")
                last = sink.latest[keys[0]]
                assert (last.value, last.quality, last.reason) == (
                    61.5,
                    Quality.UNCERTAIN,
                    Reason.STALE,
                )
                await node.births(63.0)
                await wait_for(lambda: sink.value(keys[0]) == 63.0, what="values after the rebirth")
                # device death: its points bad, the node's point still good
                await node.send("DDEATH", [])
                await wait_for(lambda: sink.reason(keys[0]) == Reason.COMM_FAILURE, what="DDEATH")
                assert sink.reason(keys[1]) == Reason.COMM_FAILURE and sink.value(keys[2]) == 100
                await node.send("NDEATH", [spb.Metric(spb.BD_SEQ, None, None, spb.UInt64, 1)])
                await wait_for(lambda: sink.reason(keys[2]) == Reason.COMM_FAILURE, what="NDEATH")
                result = await driver.write(MqttDriver.parse(PUMP), 0)
                assert not result.ok and "no birth seen" in result.error
                assert driver.stats().errors == 1  # the sequence gap

    run(main())


def test_data_before_birth_asks_for_rebirth_and_host_state(mosquitto: Mosquitto) -> None:
    state_topic = spb.state_topic("scada1")

    async def main() -> None:
        with MqttPeer(mosquitto.port, (NCMD, state_topic)) as peer:
            node = EdgeNode(peer)
            async with running(mosquitto.port, [TT101], sparkplug_host_id="scada1") as (_, sink):
                await wait_for(lambda: rebirths(peer) == 1, what="rebirth request on connect")
                await wait_for(lambda: bool(peer.payloads(state_topic)), what="STATE online")
                assert json.loads(peer.payloads(state_topic)[0])["online"] is True
                await node.send("DDATA", [spb.Metric(None, 2, None, spb.Float, 1.0)], seq=7)
                assert key(TT101) not in sink.latest  # nothing known without a birth
                await node.births(5.0)
                await wait_for(lambda: sink.value(key(TT101)) == 5.0, what="value after birth")
            # stopped cleanly: offline published by the driver itself (the will is for crashes)
            await wait_for(lambda: len(peer.payloads(state_topic)) == 2, what="STATE offline")
            assert [json.loads(p)["online"] for p in peer.payloads(state_topic)] == [True, False]

    run(main())

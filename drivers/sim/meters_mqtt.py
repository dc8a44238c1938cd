"""The heating plant's consumer heat meters published to an MQTT broker, as JSON and Sparkplug B.

Owns the meter topic map (shared with the docs and the demo tags) and `MeterPublisher`, which
reads the meters of SS1..SS4 from a running heating `Plant` (the published measurements, so
noise and sensor faults show) every `interval` seconds and publishes:

- JSON, one retained message per meter on `conduit/demo/meters/<SSn>` (QoS 1):
  `{"ts": <epoch ms>, "power_kw": …, "flow_kg_s": …, "t_supply_c": …, "t_return_c": …,
  "energy_kwh": …, "volume_m3": …}`;
- Sparkplug B as edge node `Meters` of group `HeatNet` with devices SS1..SS4 (QoS 0, not
  retained): NBIRTH (bdSeq, `Node Control/Rebirth`) and a DBIRTH per meter naming every metric
  with its alias, then DDATA by alias with `seq` counting 0..255 across the node's messages;
  NDEATH is the MQTT will (and is sent on a clean stop). An NCMD `Node Control/Rebirth` = true
  makes it publish its births again; a station that goes Offline gets a DDEATH, and a DBIRTH
  when it is back.

The will is registered once per publisher, so `bdSeq` stays the same across the session's
reconnects (NBIRTH and NDEATH always agree).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass

from drivers.base import DeviceConfig
from drivers.mqtt import sparkplug as spb
from drivers.mqtt.session import MqttNotConnected, MqttSession
from drivers.sim.plant import Plant
from drivers.sim.registers import SUBSTATIONS

Endpoint = tuple[str, int]
log = logging.getLogger("drivers.sim.meters")

JSON_PREFIX = "conduit/demo/meters"
GROUP = "HeatNet"
EDGE_NODE = "Meters"
DEMO_BROKER = "BROKER1"
DEMO_MQTT_PORT = 15883


@dataclass(frozen=True, slots=True)
class MeterField:
    """One value of a heat meter message: JSON key and Sparkplug metric name."""

    key: str
    point: str  # the meter's point in the heating register map, "<SSn>.<point>"
    description: str
    unit: str
    decimals: int
    counter: bool = False


METER_FIELDS: tuple[MeterField, ...] = (
    MeterField("power_kw", "JT210", "Heat meter power", "kW", 1),
    MeterField("flow_kg_s", "FT210", "Heat meter flow", "kg/s", 3),
    MeterField("t_supply_c", "TT211", "Heat meter supply temperature", "°C", 2),
    MeterField("t_return_c", "TT212", "Heat meter return temperature", "°C", 2),
    MeterField("energy_kwh", "JQ210", "Heat meter energy (counter)", "kWh", 1, counter=True),
    MeterField("volume_m3", "FQ210", "Heat meter volume (counter)", "m³", 3, counter=True),
)


def json_topic(station: str) -> str:
    """The JSON topic of a meter, e.g. `conduit/demo/meters/SS1`."""
    return f"{JSON_PREFIX}/{station}"


def alias_of(station: str, key: str) -> int:
    """The Sparkplug alias of a meter metric: unique across the edge node."""
    i = SUBSTATIONS.index(station)
    j = next(n for n, f in enumerate(METER_FIELDS) if f.key == key)
    return 1 + i * len(METER_FIELDS) + j


def meter_values(plant: Plant, station: str) -> dict[str, float]:
    """The published values of one meter, by JSON key, rounded to the field's decimals."""
    return {
        f.key: round(float(plant.read(f"{station}.{f.point}")), f.decimals) for f in METER_FIELDS
    }


class MeterPublisher:
    """Publishes the heat meters of a running heating plant to an MQTT broker."""

    def __init__(
        self,
        plant: Plant,
        broker: Endpoint,
        interval: float = 2.0,
        *,
        client_id: str = "conduit-sim-meters",
        bd_seq: int = 0,
    ) -> None:
        self.plant = plant
        self.broker = broker
        self.interval = interval
        self.bd_seq = bd_seq % 256
        self.seq = 0
        self.published = 0  # data rounds published (JSON + DDATA for every online meter)
        host, port = broker
        device = DeviceConfig("METERS_SIM", "mqtt", host, port, options={"reconnect_max": 5.0})
        death = spb.encode(spb.Payload(self._now(), None, [self._bd_seq_metric()]))
        self._session = MqttSession(
            device,
            client_id=client_id,
            on_message=self._on_message,
            on_state=self._on_state,
            will=(spb.topic(GROUP, "NDEATH", EDGE_NODE), death, 1, False),
        )
        self._born: set[str] = set()  # devices with a DBIRTH since the last NBIRTH
        self._need_birth = True
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        """True while the broker link is up."""
        return self._session.connected

    async def start(self) -> None:
        """Connect (in the background, reconnecting) and start publishing."""
        if self._task is not None:
            return
        self._wake = asyncio.Event()
        await self._session.subscribe([(spb.topic(GROUP, "NCMD", EDGE_NODE), 0)])
        await self._session.start()
        self._task = asyncio.create_task(self._run(), name="conduit-sim-meters")

    async def stop(self) -> None:
        """Publish NDEATH (a clean disconnect sends no will), then disconnect."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session.connected:
            death = spb.Payload(self._now(), None, [self._bd_seq_metric()])
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await self._session.publish(
                        spb.topic(GROUP, "NDEATH", EDGE_NODE), spb.encode(death), qos=1
                    )
        await self._session.stop()

    # ----------------------------------------------------------------- publishing
    async def _run(self) -> None:
        while True:
            if not await self._session.wait_connected(self.interval):
                continue
            try:
                if self._need_birth:
                    await self._node_birth()
                await self._publish_round()
            except MqttNotConnected:
                self._need_birth = True
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval):
                    await self._wake.wait()
            self._wake.clear()

    async def _node_birth(self) -> None:
        self._need_birth = False
        self._born.clear()
        self.seq = 0
        metrics = [
            self._bd_seq_metric(),
            spb.Metric(spb.REBIRTH, None, self._now(), spb.Boolean, False),
        ]
        await self._send("NBIRTH", None, metrics, advance=False)
        log.info("meters: NBIRTH %s/%s (bdSeq %d)", GROUP, EDGE_NODE, self.bd_seq)

    async def _publish_round(self) -> None:
        now = self._now()
        offline = self.plant.faults.offline_stations
        for station in SUBSTATIONS:
            if station in offline:
                if station in self._born:
                    self._born.discard(station)
                    await self._send("DDEATH", station, [])
                continue
            values = meter_values(self.plant, station)
            message = json.dumps({"ts": now, **values}).encode()
            await self._session.publish(json_topic(station), message, qos=1, retain=True)
            if station not in self._born:
                self._born.add(station)
                births = [
                    spb.Metric(f.key, alias_of(station, f.key), now, spb.Double, values[f.key])
                    for f in METER_FIELDS
                ]
                await self._send("DBIRTH", station, births)
            else:
                data = [
                    spb.Metric(None, alias_of(station, f.key), now, spb.Double, values[f.key])
                    for f in METER_FIELDS
                ]
                await self._send("DDATA", station, data)
        self.published += 1

    async def _send(
        self, kind: str, device: str | None, metrics: list[spb.Metric], *, advance: bool = True
    ) -> None:
        if advance:
            self.seq = (self.seq + 1) % 256
        payload = spb.Payload(self._now(), self.seq, metrics)
        topic = spb.topic(GROUP, kind, EDGE_NODE, device)
        await self._session.publish(topic, spb.encode(payload), qos=0)

    # ----------------------------------------------------------------- callbacks
    def _on_state(self, connected: bool, _reason: str) -> None:
        if connected:
            self._need_birth = True  # every new connection starts with NBIRTH
            self._wake.set()

    def _on_message(self, topic: str, payload: bytes) -> None:
        try:
            message = spb.decode(payload)
        except spb.SparkplugError as exc:
            log.warning("meters: ignored NCMD on %s: %s", topic, exc)
            return
        if any(m.name == spb.REBIRTH and m.value is True for m in message.metrics):
            log.info("meters: rebirth requested")
            self._need_birth = True
            self._wake.set()

    def _bd_seq_metric(self) -> spb.Metric:
        return spb.Metric(spb.BD_SEQ, None, self._now(), spb.UInt64, self.bd_seq)

    @staticmethod
    def _now() -> int:
        return int(time.time() * 1000)

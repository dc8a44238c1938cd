"""The publisher as a Sparkplug B edge node: NBIRTH, NDATA by alias, NDEATH will, rebirth.

The publisher reaches mosquitto through a `Proxy` the test controls, so its connection can be
killed without a clean DISCONNECT (the broker then publishes the will) or refused for a while.
Payloads are decoded with `drivers.mqtt.sparkplug`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.mqtt import sparkplug as spb
from hmi.project import load_project
from hmi.station import Station
from tests.conftest import LoopThread, free_port, wait_until
from tests.drivers.conftest import ModbusTestServer
from tests.hmi.test_publish import Subscriber, Ticker, diag, home, plc, ticker, write_project  # noqa: F401
from tests.mosquitto import Mosquitto, mosquitto_fixture  # noqa: F401

pytestmark = pytest.mark.slow
GROUP, NODE = "plant", "station-7"


class Proxy:
    """A TCP relay to the broker; `cut()` drops every connection, `refuse` turns new ones away."""

    def __init__(self, peer: LoopThread, target: int) -> None:
        self.peer, self.target, self.port = peer, target, free_port()
        self.refuse = False
        self.accepted = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", self.port)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refuse:
            writer.transport.abort()
            return
        self.accepted += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    async def cut(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()  # RST, no DISCONNECT: the broker publishes the will

    async def stop(self) -> None:
        await self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest.fixture
def proxy(peer_loop: LoopThread, mosquitto: Mosquitto) -> Iterator[Proxy]:
    p = Proxy(peer_loop, mosquitto.port)
    peer_loop.call(p.start())
    yield p
    peer_loop.call(p.stop())


def messages(sub: Subscriber, kind: str) -> list[spb.Payload]:
    return [spb.decode(p) for _, p in sub.received(f"spBv1.0/{GROUP}/{kind}/{NODE}")]


def kinds(sub: Subscriber) -> list[str]:
    return [t.split("/")[2] for t, _ in sub.received("spBv1.0/")]


def data_after_last_birth(sub: Subscriber) -> list[spb.Payload]:
    """NDATA payloads after the latest NBIRTH."""
    received = sub.received("spBv1.0/")
    births = [i for i, (t, _) in enumerate(received) if "/NBIRTH/" in t]
    return [spb.decode(p) for t, p in received[births[-1] + 1 :] if "/NDATA/" in t]


def metric(payload: spb.Payload, name: str) -> spb.Metric:
    return next(m for m in payload.metrics if m.name == name)


def test_sparkplug_birth_data_death_and_rebirth(
    tmp_path: Path,
    home: Path,  # noqa: F811
    plc: ModbusTestServer,  # noqa: F811
    ticker: Ticker,  # noqa: F811
    mosquitto: Mosquitto,
    proxy: Proxy,
    peer_loop: LoopThread,
) -> None:
    publish = f'format = "sparkplug"\ngroup = "{GROUP}"\nedge_node = "{NODE}"\ntags = ["S.*"]\n'
    root = write_project(tmp_path / "p", plc.port, proxy.port, publish)
    sub = Subscriber(mosquitto.port, "spBv1.0/#")
    station = Station(load_project(root))
    station.start()
    try:
        wait_until(lambda: messages(sub, "NBIRTH"), 10, "NBIRTH")
        birth = messages(sub, "NBIRTH")[0]
        assert birth.seq == 0
        bd_seq = metric(birth, spb.BD_SEQ).value
        assert metric(birth, spb.REBIRTH).value is False
        aliases = {m.name: m.alias for m in birth.metrics if m.alias is not None}
        assert set(aliases) == {"S.CNT", "S.TEMP"}
        assert metric(birth, "S.TEMP").datatype == spb.Double
        ticker.start()
        wait_until(lambda: len(messages(sub, "NDATA")) >= 5, 10, "NDATA")
        data = messages(sub, "NDATA")
        assert [d.seq for d in data[:5]] == [1, 2, 3, 4, 5]
        by_alias = {alias: name for name, alias in aliases.items()}
        counts = [m.value for d in data for m in d.metrics if by_alias[m.alias] == "S.CNT"]
        assert counts and counts == sorted(counts) and counts[-1] >= 1
        assert all(m.name is None and not m.is_historical for d in data for m in d.metrics)
        temps = [metric(birth, "S.TEMP").value]
        temps += [m.value for d in data for m in d.metrics if by_alias[m.alias] == "S.TEMP"]
        assert 21.5 in temps

        # a host application asks for a rebirth: NBIRTH again, same bdSeq, seq from 0
        command = spb.Payload(None, None, [spb.Metric(spb.REBIRTH, None, None, spb.Boolean, True)])
        sub.client.publish(f"spBv1.0/{GROUP}/NCMD/{NODE}", spb.encode(command), qos=1)
        wait_until(lambda: len(messages(sub, "NBIRTH")) == 2, 10, "NBIRTH on request")
        assert metric(messages(sub, "NBIRTH")[1], spb.BD_SEQ).value == bd_seq
        wait_until(lambda: data_after_last_birth(sub), 10, "NDATA after the rebirth")
        assert data_after_last_birth(sub)[0].seq == 1

        # the connection dies without a DISCONNECT: the broker delivers the NDEATH will
        proxy.refuse = True
        peer_loop.call(proxy.cut())
        wait_until(lambda: messages(sub, "NDEATH"), 10, "NDEATH")
        assert metric(messages(sub, "NDEATH")[0], spb.BD_SEQ).value == bd_seq
        wait_until(lambda: diag(station, "queued") >= 3, 10, "buffering while down")
        buffered = station.publisher.spool.last_seq  # type: ignore[union-attr]
        proxy.refuse = False
        wait_until(lambda: len(messages(sub, "NBIRTH")) == 3, 10, "new NBIRTH")
        rebirth = messages(sub, "NBIRTH")[2]
        assert metric(rebirth, spb.BD_SEQ).value == (bd_seq + 1) % 256
        assert {m.name: m.alias for m in rebirth.metrics if m.alias} == aliases
        wait_until(lambda: diag(station, "queued") == 0, 10, "replayed")
        wait_until(
            lambda: any(not m.is_historical for d in data_after_last_birth(sub) for m in d.metrics),
            10,
            "live data after the replay",
        )
        ticker.pause()
    finally:
        station.stop()  # a clean stop publishes NDEATH itself
        sub.close()
    order = kinds(sub)
    last_birth = [i for i, k in enumerate(order) if k == "NBIRTH"][-1]
    assert order[last_birth - 1] == "NDEATH"  # death, then the new birth, then its data
    after = data_after_last_birth(sub)
    assert [d.seq for d in after[:3]] == [1, 2, 3]  # seq restarts after each NBIRTH
    flags = [m.is_historical for d in after for m in d.metrics]
    assert flags[0], "data buffered during the outage comes back flagged is_historical"
    assert flags == sorted(flags, reverse=True)  # all replayed data first, then live data
    assert buffered > 0
    deaths = messages(sub, "NDEATH")
    assert metric(deaths[-1], spb.BD_SEQ).value == (bd_seq + 1) % 256  # clean stop

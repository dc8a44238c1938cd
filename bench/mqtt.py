"""MQTT driver throughput: tag values per second into the sink, one tag per message vs JSON batches.

A mosquitto broker and a publisher run in child processes; the driver runs here with a counting
sink, so the CPU figure is this process only (100 % = one core). The publisher speaks raw MQTT
3.1.1 QoS 0 over a blocking socket (no client library in the way) and sends as fast as the broker
takes it; what the driver consumes is the figure. `python -m bench.mqtt PORT MODE SECONDS` is the
publisher.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

from bench.servers import free_port
from drivers.base import DeviceConfig, Point, Sample
from drivers.mqtt.driver import MqttDriver

TAGS = 1000
PER_MESSAGE = 100  # tags per JSON message in the batched mode
MODES = {"single": "one tag per message", "batched": f"{PER_MESSAGE} tags per JSON message"}


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _packet(kind: int, body: bytes) -> bytes:
    return bytes([kind]) + _remaining_length(len(body)) + body


def _utf8(text: str) -> bytes:
    raw = text.encode()
    return len(raw).to_bytes(2, "big") + raw


def _publish_packet(topic: str, payload: bytes) -> bytes:
    return _packet(0x30, _utf8(topic) + payload)  # PUBLISH, QoS 0


def _round(mode: str, n: int) -> bytes:
    """One round of messages carrying every tag once (value `n`)."""
    if mode == "single":
        return b"".join(
            _publish_packet(f"bench/t{i}", str(n + i % 7).encode()) for i in range(TAGS)
        )
    messages = []
    for j in range(TAGS // PER_MESSAGE):
        doc = {f"T{k}": n + k % 7 + 0.5 for k in range(PER_MESSAGE)}
        messages.append(_publish_packet(f"bench/b{j}", json.dumps(doc).encode()))
    return b"".join(messages)


def publisher(port: int, mode: str, seconds: float) -> None:
    """Connect with raw MQTT 3.1.1 and publish rounds of all tags for `seconds`."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        connect = _utf8("MQTT") + bytes([4, 0x02]) + (60).to_bytes(2, "big") + _utf8("bench-pub")
        sock.sendall(_packet(0x10, connect))
        if sock.recv(4)[:1] != b"\x20":
            raise SystemExit("no CONNACK")
        rounds = [_round(mode, n) for n in range(4)]
        print("ready", flush=True)
        deadline = time.monotonic() + seconds
        n = 0
        while time.monotonic() < deadline:
            sock.sendall(rounds[n % 4])
            n += 1
        sock.sendall(b"\xe0\x00")  # DISCONNECT


@contextlib.contextmanager
def broker(port: int) -> Iterator[None]:
    """A mosquitto on 127.0.0.1:`port` in a child process."""
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "mosquitto.conf"
        config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nlog_type error\n")
        proc = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while True:
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", port), 0.2),
                ):
                    break
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("mosquitto did not start")
                time.sleep(0.02)
            yield
        finally:
            proc.terminate()
            proc.wait(10)


async def _measure(
    port: int, mode: str, version: str, seconds: float
) -> tuple[float, float, float]:
    """(tag values/s, messages/s, CPU % of this process) while the publisher sends."""
    if mode == "single":
        texts = [f"mqtt://BENCH/bench/t{i}" for i in range(TAGS)]
    else:
        texts = [f"mqtt://BENCH/bench/b{i // PER_MESSAGE}#/T{i % PER_MESSAGE}" for i in range(TAGS)]
    counts = [0, 0]  # samples, batches

    def sink(batch: list[Sample]) -> None:
        counts[0] += len(batch)
        counts[1] += 1

    device = DeviceConfig(
        "BENCH", "mqtt", "127.0.0.1", port, 2.0, {"qos": 0, "mqtt_version": version}
    )
    driver = MqttDriver(device, sink)
    task = asyncio.create_task(driver.run([Point(MqttDriver.parse(t)) for t in texts]))
    proc = None
    try:
        await asyncio.sleep(0.1)  # let run() make its session
        assert driver._session is not None and await driver._session.wait_connected(10)
        await asyncio.sleep(0.3)  # SUBACK
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.mqtt",
            str(port),
            mode,
            str(seconds + 2),
            stdout=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        await proc.stdout.readline()  # "ready"
        await asyncio.sleep(0.5)  # warm up
        me = psutil.Process()
        cpu0, t0, samples0, batches0 = me.cpu_times(), time.perf_counter(), *counts
        await asyncio.sleep(seconds)
        cpu1, t1 = me.cpu_times(), time.perf_counter()
        wall = t1 - t0
        cpu = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / wall * 100
        return (counts[0] - samples0) / wall, (counts[1] - batches0) / wall, cpu
    finally:
        if proc is not None and proc.returncode is None:
            proc.terminate()
            await proc.wait()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def throughput(seconds: float = 4.0) -> None:
    """Print tag values/s into the sink for single-value and batched JSON messages, with CPU %.

    Each mode runs with MQTT 5 (the default) and 3.1.1: paho builds a Properties object for
    every MQTT 5 PUBLISH it receives, which shows in the per-message cost.
    """
    if not (shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()):
        print("mosquitto is not installed: skipped")
        return
    print(f"({psutil.cpu_count()} CPUs shared by broker, publisher and driver)", flush=True)
    for mode, label in MODES.items():
        for version in ("5", "3.1.1"):
            port = free_port()
            with broker(port):
                values, messages, cpu = asyncio.run(_measure(port, mode, version, seconds))
            cost = cpu / 100 / values * 1e6 if values else float("nan")
            print(
                f"{TAGS} tags, {label}, MQTT {version}: {values:,.0f} tag values/s into the sink "
                f"({messages:,.0f} messages/s), driver process CPU {cpu:.0f} % of one core, "
                f"{cost:.1f} us CPU per value (~{1e6 / cost:,.0f} values/s per core)",
                flush=True,
            )


if __name__ == "__main__":
    publisher(int(sys.argv[1]), sys.argv[2], float(sys.argv[3]))

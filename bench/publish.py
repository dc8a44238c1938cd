"""Publisher figures: values per second out to a local mosquitto (JSON), and the replay rate.

`throughput()` starts its own mosquitto on a free port, builds a station-like runtime with N tags
(not polling: the benchmark drives the runtime's subscribers with change batches, as the runtime
thread does after each poll), and measures

- live: values per second that reach a subscriber while batches of 2,000 changes are offered as
  fast as the publisher keeps up (the backlog is held under a bound, so nothing is dropped);
- replay: with the broker stopped, 20,000 messages of 10 values are buffered; then the broker
  starts and the time until the buffer is empty gives messages/s and values/s.

Run: `python -m bench.publish`.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hmi.project import load_project
from hmi.publish import Publisher
from hmi.runtime import Runtime
from hmi.tags import Quality, Reason, Value

TAGS = 2000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class _Broker:
    """A mosquitto process on a free port (persistence on, like a real broker)."""

    def __init__(self, folder: Path) -> None:
        self.port = _free_port()
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {folder}/\nmax_queued_messages 0\n"
        )
        self.binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "-c", str(self.conf)], stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("mosquitto did not start") from None
                time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


_COUNTER = """
import sys, threading
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
counts = [0, 0]
lock = threading.Lock()
def message(_c, _u, m):
    with lock:
        counts[0] += 1
        counts[1] += m.payload.count(b'"q":')
c = paho.Client(CallbackAPIVersion.VERSION2, "bench-counter", clean_session=False)
c.reconnect_delay_set(0.05, 0.2)
c.on_connect = lambda c, *_: c.subscribe("conduit/+/values", 1)
c.on_subscribe = lambda *_: print("ready", flush=True)
c.on_message = message
c.connect("127.0.0.1", int(sys.argv[1]))
c.loop_start()
for line in sys.stdin:
    with lock:
        print(*counts, flush=True)
        if line.strip() == "reset":
            counts[:] = [0, 0]
"""


class _Counter:
    """A subscriber in its own process (as other clients are) counting messages and values."""

    def __init__(self, port: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _COUNTER, str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.process.stdout.readline()  # "ready": subscribed

    def counts(self, reset: bool = False) -> tuple[int, int]:
        """(messages, values) received so far."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("reset\n" if reset else "\n")
        self.process.stdin.flush()
        messages, values = self.process.stdout.readline().split()
        return int(messages), int(values)

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.terminate()
        self.process.wait(10)


def _project(folder: Path, port: int) -> Path:
    root = folder / "project"
    root.mkdir()
    (root / "project.toml").write_text(
        '[project]\nname = "Bench"\n[publish]\ndevice = "BROKER"\nbuffer = "1GB"\n'
    )
    (root / "devices.toml").write_text(
        f'[PLC1]\ndriver = "modbus"\n[BROKER]\ndriver = "mqtt"\nport = {port}\n'
        'reconnect_min = "50ms"\nreconnect_max = "200ms"\n'
    )
    tags = "".join(
        f'[[tag]]\nname = "B.T{i}"\naddress = "modbus://PLC1/1/hr/{2 * i}?type=float32"\n'
        for i in range(TAGS)
    )
    (root / "tags.toml").write_text(tags)
    return root


def _batch(names: list[str], tick: int) -> list[tuple[str, Value]]:
    now = time.time()
    return [(n, Value(20.0 + tick * 0.01, Quality.GOOD, Reason.NONE, now, now)) for n in names]


def _wait(condition: object, within: float) -> None:
    deadline = time.monotonic() + within
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step did not finish in time")
        time.sleep(0.005)


def throughput(seconds: float = 5.0) -> None:
    """Print live values/s to mosquitto, and the replay rate after an outage."""
    folder = Path(tempfile.mkdtemp(prefix="conduit-bench-publish-"))
    broker = _Broker(folder)
    broker.start()
    counter = _Counter(broker.port)
    runtime = Runtime(load_project(_project(folder, broker.port)))
    publisher = Publisher(
        runtime,
        runtime.project.publish,
        runtime.project.devices["BROKER"],  # type: ignore[arg-type]
        data_dir=folder / "home",
    )
    names = [n for n in runtime.tags if n.startswith("B.")]
    publisher.start()
    spool = publisher.spool
    assert spool is not None
    try:
        # live: offer batches of TAGS changes, keeping at most ~10 batches in flight
        start, tick = time.monotonic(), 0
        while time.monotonic() - start < seconds:
            if spool.depth() + spool.pending() < 20:
                tick += 1
                runtime._notify(_batch(names, tick))  # as the runtime thread does after a poll
            else:
                time.sleep(0.001)
        _wait(lambda: spool.depth() + spool.pending() == 0, 60)
        elapsed = time.monotonic() - start
        messages, values = counter.counts(reset=True)
        print(
            f"live JSON: {values / elapsed:,.0f} values/s in {messages / elapsed:,.0f} messages/s "
            f"(batches of {TAGS} changes, 64 KiB messages, QoS 1, window {publisher.window})"
        )
        # replay: buffer 20,000 messages of 10 values while the broker is down, then drain
        broker.stop()
        _wait(lambda: not publisher.connected, 10)
        small = names[:10]
        for tick in range(20_000):
            runtime._notify(_batch(small, tick))
        _wait(lambda: spool.pending() == 0, 60)
        queued = spool.depth()
        broker.start()
        _wait(lambda: publisher.connected, 20)
        start = time.monotonic()
        _wait(lambda: spool.depth() == 0, 300)
        elapsed = time.monotonic() - start
        print(
            f"replay after an outage: {queued:,} messages in {elapsed:.2f} s = "
            f"{queued / elapsed:,.0f} messages/s, {queued * 10 / elapsed:,.0f} values/s "
            f"(10 values per message)"
        )
    finally:
        publisher.stop()
        counter.close()
        broker.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    throughput()

"""Shared fixtures: free loopback ports, leak checks for threads and asyncio tasks, and a
throwaway PostgreSQL cluster for the relational store's PostgreSQL variants."""

from __future__ import annotations

import importlib.util
import os
import random
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from hmi.db import create_all, metadata, open_database

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Certificates, buffers and other per-installation state go to a throwaway folder, never ~/.
os.environ["CONDUIT_HOME"] = tempfile.mkdtemp(prefix="conduit-test-home-")


# Ports for servers the tests start come from below Linux's ephemeral range (32768-60999):
# a port the kernel hands out to `bind(0)` can meanwhile become the local end of an outgoing
# connection (a database client, a driver) and the server then fails to listen on it. Each port
# is handed out once per session, so two devices of one project never get the same.
PORT_RANGE = (20000, 32767)
_handed_out: set[int] = set()


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_run(count: int) -> int:
    """The first of `count` consecutive TCP ports on 127.0.0.1 that nothing listens on now."""
    low, high = PORT_RANGE
    for _ in range(500):
        base = random.randint(low, high - count + 1)
        run = range(base, base + count)
        if any(p in _handed_out for p in run) or not all(_bindable(p) for p in run):
            continue
        _handed_out.update(run)
        return base
    raise RuntimeError(f"no {count} consecutive free ports found in {low}-{high}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (not handed out before)."""
    return free_port_run(1)


@pytest.fixture
def port() -> int:
    """A free TCP port on 127.0.0.1."""
    return free_port()


@pytest.fixture(autouse=True)
def no_thread_leaks() -> Iterator[None]:
    """Fail a test that leaves a thread of ours running."""
    before = set(threading.enumerate())
    yield
    leaked = [
        t
        for t in threading.enumerate()
        if t not in before and t.is_alive() and t.name.startswith("conduit")
    ]
    for t in leaked:
        t.join(timeout=5)
    still = [t.name for t in leaked if t.is_alive()]
    assert not still, f"threads left running: {still}"


class LoopThread:
    """An asyncio loop on its own thread, for peers (servers) that tests drive synchronously."""

    def __init__(self) -> None:
        import asyncio

        self._asyncio = asyncio
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="conduit-test-peer")
        self.thread.start()

    def call(self, coro: object, timeout: float = 15.0) -> object:
        """Run a coroutine on the loop and return its result."""
        return self._asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    def close(self) -> None:
        """Stop the loop and its thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def peer_loop() -> Iterator[LoopThread]:
    """A loop thread for servers the test starts; closed after the test."""
    lt = LoopThread()
    yield lt
    lt.close()


def wait_until(condition: object, timeout: float = 10.0, what: str = "") -> None:
    """Poll `condition()` every 10 ms until true; fail the test after `timeout` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(0.01)


def demo_copy(dest: Path) -> Path:
    """A copy of the demo project in `dest` whose devices listen on free ports."""
    import re
    import shutil

    from hmi.resources import demo_project

    target = dest / "demo"
    shutil.copytree(demo_project(), target)
    devices = target / "devices.toml"
    text = re.sub(r"(?m)^port = \d+$", lambda _: f"port = {free_port()}", devices.read_text())
    devices.write_text(text)
    return target


# ---- the relational store on PostgreSQL ---------------------------------------------------
#
# PostgreSQL runs when this machine has its server binaries and the optional psycopg driver: a
# cluster is started in a temporary folder on a free port for the session (as `nobody` when the
# tests run as root, because initdb refuses root). Otherwise those variants are skipped with the
# reason (CI installs both, so it runs them).


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster for the session; its SQLAlchemy URL."""
    if importlib.util.find_spec("psycopg") is None:
        pytest.skip("PostgreSQL variant: the optional driver psycopg is not installed")
    missing = [b for b in ("initdb", "pg_ctl", "postgres") if shutil.which(b) is None]
    if missing:
        pytest.skip(f"PostgreSQL variant: {', '.join(missing)} not on PATH")
    root = Path(tempfile.mkdtemp(prefix="conduit-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: the cluster belongs to nobody
        if shutil.which("runuser") is None:
            shutil.rmtree(root)
            pytest.skip("PostgreSQL variant: running as root and runuser is missing")
        shutil.chown(root, "nobody")
        prefix = ["runuser", "-u", "nobody", "--"]
    data, port = root / "data", free_port()
    init = _run([*prefix, "initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"])
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"PostgreSQL variant: initdb failed: {init.stderr.strip()[-300:]}")
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    ctl = [*prefix, "pg_ctl", "-D", str(data), "-l", str(root / "log"), "-w", "-t", "60"]
    start = _run([*ctl, "-o", options, "start"])
    if start.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"PostgreSQL variant: the server did not start: {start.stderr.strip()[-300:]}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        _run([*ctl, "-m", "immediate", "stop"])
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine with every table empty: an SQLite file in tmp_path, or the session's PostgreSQL."""
    url = None if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    eng = open_database(url, tmp_path, busy_timeout=0.1)
    metadata.drop_all(eng)
    create_all(eng)
    yield eng
    eng.dispose()

"""Fixtures shared by the core's tests: a real Modbus test server holding known values, and a
throwaway PostgreSQL cluster for the relational store's PostgreSQL variants.

PostgreSQL runs when this machine has its server binaries and the optional psycopg driver: a
cluster is started in a temporary folder on a free port for the session (as `nobody` when the
tests run as root, because initdb refuses root). Otherwise those variants are skipped with the
reason (CI installs both, so it runs them).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from drivers.modbus.codec import encode
from hmi.db import create_all, metadata, open_database
from tests.conftest import LoopThread, free_port
from tests.drivers.conftest import ModbusTestServer


@pytest.fixture
def plc(peer_loop: LoopThread, port: int) -> Iterator[ModbusTestServer]:
    """A Modbus server with 72.5 (float32 CDAB) at hr 0, -123 (int16) at hr 2, coil 3 on."""
    server = ModbusTestServer(port)
    peer_loop.call(server.start())
    peer_loop.call(server.set(1, "hr", 0, encode(72.5, "float32", "CDAB")))
    peer_loop.call(server.set(1, "hr", 2, encode(-123, "int16")))
    peer_loop.call(server.set(1, "co", 3, [True]))
    yield server
    if server.running:
        peer_loop.call(server.stop())


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

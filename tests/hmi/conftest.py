"""Fixtures shared by the core's tests: a real Modbus test server holding known values (the
PostgreSQL fixtures `postgres_url` and `database` are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drivers.modbus.codec import encode
from tests.conftest import LoopThread
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

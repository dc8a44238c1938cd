"""Driver modules are imported off the runtime's loop: a protocol library that takes long to
import (asyncua: most of a second) holds up neither the loop nor the other devices' values."""

from __future__ import annotations

import sys
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

import drivers
from hmi.project import load_project
from hmi.runtime import Runtime
from tests.conftest import wait_until
from tests.drivers.conftest import ModbusTestServer

GATE = threading.Event()  # the gated driver module's import waits for it
FIRST_VALUES_SEEN: list[bool] = []  # at its import: had the runtime delivered values yet?
RUNTIMES: list[Runtime] = []

GATED_MODULE = """\
from tests.hmi.test_runtime_imports import FIRST_VALUES_SEEN, GATE, RUNTIMES

FIRST_VALUES_SEEN.append(RUNTIMES[-1].first_values.is_set())
GATE.wait(20)
from drivers.modbus.driver import ModbusDriver as GatedDriver  # noqa: E402
"""


@pytest.fixture
def gated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A scheme `gated` whose driver module (a Modbus driver) imports only once GATE opens."""
    name = f"gated_driver_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(GATED_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(drivers.SCHEMES, "gated", f"{name}:GatedDriver")
    GATE.clear()
    FIRST_VALUES_SEEN.clear()
    yield name
    GATE.set()
    sys.modules.pop(name, None)


def two_plcs(root: Path, port: int) -> Runtime:
    """PLC1 on the Modbus driver, PLC2 (the same server) on the gated scheme."""
    root.mkdir()
    (root / "project.toml").write_text('[project]\nname = "Imports"\n[scan]\nfast = "100ms"\n')
    devices = "".join(
        f'[{d}]\ndriver = "modbus"\nhost = "127.0.0.1"\nport = {port}\ntimeout = "300ms"\n\n'
        for d in ("PLC1", "PLC2")
    )
    (root / "devices.toml").write_text(devices)
    (root / "tags.toml").write_text(
        textwrap.dedent("""\
        [[tag]]
        name = "A"
        address = "modbus://PLC1/1/hr/2?type=int16"
        scan = "fast"

        [[tag]]
        name = "B"
        address = "modbus://PLC2/1/hr/2?type=int16"
        scan = "fast"
        """)
    )
    project = load_project(root)
    devices_run = dict(project.devices)
    devices_run["PLC2"] = replace(devices_run["PLC2"], scheme="gated")
    runtime = Runtime(project, devices_run)
    RUNTIMES.append(runtime)
    return runtime


def test_a_slow_driver_import_holds_up_no_other_device(
    tmp_path: Path, plc: ModbusTestServer, gated: str
) -> None:
    runtime = two_plcs(tmp_path / "p", plc.port)
    runtime.start()
    try:
        store = runtime.store
        wait_until(lambda: store.get("A").good, 10, "PLC1's value while PLC2's driver imports")
        assert not store.get("B").good and "PLC2" not in runtime.link_stats()
        wait_until(lambda: bool(FIRST_VALUES_SEEN), 10, "PLC2's driver import began")
        GATE.set()
        wait_until(lambda: store.get("B").good, 10, "PLC2's value once its driver is imported")
        assert set(runtime.link_stats()) == {"PLC1", "PLC2"}
    finally:
        runtime.stop()


def test_values_first_imports_the_slow_libraries_after_the_first_values(
    tmp_path: Path, plc: ModbusTestServer, gated: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("hmi.runtime.SLOW_IMPORTS", frozenset({"gated"}))
    runtime = two_plcs(tmp_path / "p", plc.port)
    runtime.prepare(values_first=True)
    runtime.start()
    try:
        wait_until(lambda: bool(FIRST_VALUES_SEEN), 10, "the gated import began")
        assert FIRST_VALUES_SEEN == [True]
        assert runtime.store.get("A").good
        GATE.set()
        wait_until(lambda: runtime.store.get("B").good, 10, "PLC2's value")
    finally:
        runtime.stop()

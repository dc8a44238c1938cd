"""Device passwords in the OS keyring: stored, handed to drivers, never echoed; no backend."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail

from hmi import secrets
from hmi.cli import main
from hmi.project import load_project
from hmi.station import StationError, runtime_devices


class MemoryKeyring(KeyringBackend):
    """A keyring held in memory: stands in for the desktop's Secret Service in tests."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        del self.store[(service, username)]


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    yield ring
    keyring.set_keyring(previous)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


def project_with_login(root: Path) -> Path:
    (root / "project.toml").write_text('[project]\nname = "p"\n')
    (root / "devices.toml").write_text(
        '[PLC1]\ndriver = "modbus"\nport = 502\n\n[PLC2]\ndriver = "modbus"\nport = 503\n'
    )
    (root / "tags.toml").write_text('[[tag]]\nname = "A.B"\naddress = "modbus://PLC1/1/hr/0"\n')
    return root


def test_set_from_stdin_stores_without_echo_and_delete_removes(
    memory_keyring: MemoryKeyring,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret-Pa55\n"))
    assert main(["secrets", "set", "BROKER1", "--stdin"]) == 0
    out = capsys.readouterr()
    assert "s3cret" not in out.out + out.err
    assert memory_keyring.store[("conduit-hmi", "BROKER1")] == "s3cret-Pa55"
    assert main(["secrets", "delete", "BROKER1"]) == 0
    assert ("conduit-hmi", "BROKER1") not in memory_keyring.store
    assert main(["secrets", "delete", "BROKER1"]) == 0
    assert "none stored" in capsys.readouterr().out


def test_without_a_keyring_backend_the_error_says_what_to_install(tmp_path: Path) -> None:
    env = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "hmi", "secrets", "set", "PLC1", "--stdin"],
        input="pw\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert proc.returncode == 1
    assert "no OS keyring is available" in proc.stderr
    assert "keyrings.cryptfile" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "pw" not in proc.stdout


def test_the_station_hands_the_stored_password_only_to_devices_that_log_in(
    memory_keyring: MemoryKeyring, tmp_path: Path
) -> None:
    root = project_with_login(tmp_path)
    project = load_project(root)
    # a login is declared by a `username` option (of the OPC UA and MQTT drivers)
    plc1 = project.devices["PLC1"]
    project.devices["PLC1"] = replace(plc1, options={**plc1.options, "username": "operator"})
    secrets.set_password("PLC1", "pw-1")
    devices = runtime_devices(project, tmp_path / "data")
    assert devices["PLC1"].password == "pw-1"
    assert devices["PLC2"].password is None
    assert devices["PLC1"].data_dir == str(tmp_path / "data")
    assert "pw-1" not in repr(devices["PLC1"])


def test_a_login_device_without_keyring_stops_the_station_with_the_reason(
    no_keyring: None, tmp_path: Path
) -> None:
    project = load_project(project_with_login(tmp_path))
    plc1 = project.devices["PLC1"]
    project.devices["PLC1"] = replace(plc1, options={**plc1.options, "username": "operator"})
    with pytest.raises(StationError, match="no OS keyring is available"):
        runtime_devices(project, tmp_path)

"""The `conduit` command: check, tags, run, sim — as a person runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hmi.cli import main
from hmi.resources import demo_project
from tests.conftest import demo_copy


def test_check_accepts_the_demo(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(demo_project())]) == 0
    out = capsys.readouterr().out
    assert "OK" in out
    assert "7 devices" in out


def test_check_lists_every_problem_with_file_and_line_and_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "project.toml").write_text('[project]\nname = "broken"\n')
    (tmp_path / "devices.toml").write_text('[PLC1]\ndriver = "modbus"\nport = 502\n')
    (tmp_path / "tags.toml").write_text(
        '[[tag]]\nname = "A.B"\naddress = "modbus://PLC1/1/hr/0?type=flaot32"\n\n'
        '[[tag]]\nname = "A.C"\nexpr = "A.B + A.Z"\n'
    )
    proc = subprocess.run(
        [sys.executable, "-m", "hmi", "check", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "tags.toml:3: tag A.B: address:" in proc.stderr
    assert "unknown type 'flaot32'" in proc.stderr
    assert "tags.toml:7: tag A.C: expr:" in proc.stderr
    assert "'A.Z'" in proc.stderr
    assert "2 problem(s)" in proc.stderr


def test_tags_json_shows_live_values_from_the_simulator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tags", str(demo_copy(tmp_path)), "--simulate", "--json", "--wait", "10"]) == 0
    tags = json.loads(capsys.readouterr().out)
    supply = tags["HS1.TT101"]
    assert supply["quality"] == "good"
    assert supply["unit"] == "°C"
    assert 60 < supply["value"] < 130
    assert tags["_diag.PLC_HS1.online"]["value"] is True
    assert all(t["quality"] == "good" for n, t in tags.items() if not n.startswith("_diag"))


def test_run_for_a_while_reports_good_tags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(demo_copy(tmp_path)), "--simulate", "--for", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("running Demo district heating")
    good, total = out.split("stopped: ")[1].split(" tags good")[0].split("/")
    assert int(total) > 100
    assert int(good) > int(total) * 0.8


def test_sim_prints_its_register_map(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--register-map"]) == 0
    out = capsys.readouterr().out
    assert "HS1.TT101" in out
    assert (
        out.strip() == (Path(__file__).parents[2] / "docs" / "register-map.md").read_text().strip()
    )


def test_sim_alone_serves_the_plant_over_modbus_tcp(tmp_path: Path) -> None:
    import asyncio

    from pymodbus.client import AsyncModbusTcpClient

    from drivers.modbus.codec import decode
    from drivers.sim.registers import BY_NAME
    from tests.conftest import free_port_run

    base = free_port_run(5)  # one port per station: HS1, SS1..SS4
    proc = subprocess.Popen(
        [sys.executable, "-m", "hmi", "sim", "--port", str(base), "--for", "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(6)]
        assert lines[0].strip() == f"HS1: modbus://127.0.0.1:{base}", proc.stderr.read()
        assert lines[5].strip() == "serving; Ctrl-C stops", proc.stderr.read()
        point = BY_NAME["HS1.TT101"]

        async def read_supply() -> float:
            client = AsyncModbusTcpClient("127.0.0.1", port=base, timeout=2)
            assert await client.connect()
            reply = await client.read_input_registers(
                point.offset, count=2, device_id=point.unit_id
            )
            client.close()
            return float(decode(reply.registers, "float32"))

        assert 60.0 < asyncio.run(read_supply()) < 130.0
    finally:
        proc.terminate()
        proc.wait(10)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""


def test_sim_with_a_project_serves_every_simulated_device(tmp_path: Path) -> None:
    import socket

    from hmi.project import load_project

    project = demo_copy(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "hmi", "sim", str(project), "--for", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        while not lines or lines[-1] != "serving; Ctrl-C stops":
            line = proc.stdout.readline()
            assert line, f"sim ended early: {proc.stderr.read() if proc.stderr else ''}"
            lines.append(line.strip())
        assert any(line.startswith("heating/HS1: 127.0.0.1:") for line in lines)
        assert any(line.startswith("gasgate/GS1: 127.0.0.1:") for line in lines)
        devices = load_project(project).devices
        for name in ("PLC_HS1", "PLC_SS4", "GS1"):  # each listens
            with socket.create_connection(("127.0.0.1", devices[name].port), timeout=5):
                pass
    finally:
        proc.terminate()
        proc.wait(30)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""

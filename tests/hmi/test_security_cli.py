"""`conduit users`: add, list, disable, enable, reset-password; passwords from stdin or getpass."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine

from hmi import cli, cli_users
from hmi.db import open_database
from hmi.security.auth import Authenticator
from hmi.security.errors import AccountDisabled
from hmi.security.store import UserStore
from tests.hmi.test_security_store import ListAudit

ROOT_PW = "Plant-secret-1"
OP_PW = "Valve-secret-2"


@pytest.fixture
def audit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ListAudit:
    """The station's data folder in tmp_path, and the CLI's audit records in a list."""
    monkeypatch.setenv("CONDUIT_HOME", str(tmp_path / "home"))
    sink = ListAudit()
    monkeypatch.setattr(cli_users, "_audit", lambda engine: sink)
    return sink


def run(monkeypatch: pytest.MonkeyPatch, args: list[str], stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return cli.main(["users", *args])


def station_db(tmp_path: Path) -> Engine:
    return open_database(None, tmp_path / "home")


def test_users_from_the_command_line(
    audit: ListAudit,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(monkeypatch, ["list"]) == 0
    assert "no users yet" in capsys.readouterr().out
    # the first user must be an administrator
    assert run(monkeypatch, ["add", "op", "--role", "operator", "--password-stdin"], OP_PW) == 2
    assert "first user must hold a role that may manage users" in capsys.readouterr().err
    add_root = ["add", "root", "--role", "administrator", "--full-name", "Root", "--password-stdin"]
    assert run(monkeypatch, add_root, f"{ROOT_PW}\n{ROOT_PW}\n") == 0
    assert "added root: administrator" in capsys.readouterr().out
    # a wrong second entry, a policy refusal, a bad grant
    add_op = ["add", "op", "--role", "operator:SS1,SS2", "--password-stdin"]
    assert run(monkeypatch, add_op, f"{OP_PW}\nValve-secret-3\n") == 2
    assert "the two passwords differ; nothing was changed" in capsys.readouterr().err
    assert run(monkeypatch, add_op, "short\n") == 2
    assert "at least 10 characters" in capsys.readouterr().err
    assert run(monkeypatch, ["add", "op", "--role", "operator:", "--password-stdin"], OP_PW) == 2
    assert "empty area" in capsys.readouterr().err
    assert run(monkeypatch, add_op, OP_PW + "\n") == 0
    assert "added op: operator:SS1 operator:SS2" in capsys.readouterr().out

    assert run(monkeypatch, ["list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["roles"], r["disabled"]) for r in rows] == [
        ("op", ["operator:SS1", "operator:SS2"], False),
        ("root", ["administrator"], False),
    ]
    assert run(monkeypatch, ["disable", "op", "--reason", "on leave"]) == 0
    assert run(monkeypatch, ["list"]) == 0
    table = capsys.readouterr().out
    assert "disabled" in table and "Root" in table
    engine = station_db(tmp_path)
    try:
        auth = Authenticator(UserStore(engine, audit), audit)
        with pytest.raises(AccountDisabled):
            auth.login("op", OP_PW)
        assert run(monkeypatch, ["enable", "op"]) == 0
        assert auth.login("op", OP_PW).name == "op"
        # reset-password: policy and history apply; interactive entry through getpass
        reset = ["reset-password", "op", "--password-stdin"]
        assert run(monkeypatch, reset, OP_PW) == 2
        assert "differ from the last 5 passwords" in capsys.readouterr().err
        entries = iter(["Fresh-secret-4", "Fresh-secret-4"])
        monkeypatch.setattr(cli_users.getpass, "getpass", lambda prompt: next(entries))
        assert run(monkeypatch, ["reset-password", "op"]) == 0
        assert "new password set for op" in capsys.readouterr().out
        assert auth.login("op", "Fresh-secret-4").name == "op"
        assert run(monkeypatch, ["reset-password", "ghost", "--password-stdin"], OP_PW) == 2
        assert "no user 'ghost'" in capsys.readouterr().err
    finally:
        engine.dispose()
    changes = [(r["action"], r["target"], r["result"]) for r in audit.records]
    assert [c for c in changes if c[0] != "login"] == [
        ("user_add", "root", "ok"),
        ("user_add", "op", "ok"),
        ("user_disable", "op", "ok"),
        ("user_enable", "op", "ok"),
        ("password_reset", "op", "ok"),
    ]
    by = {r["user"] for r in audit.records if r["action"].startswith(("user_", "password_"))}
    assert len(by) == 1 and by.pop().startswith("os:")
    outputs = capsys.readouterr()
    for password in (ROOT_PW, OP_PW, "Fresh-secret-4"):
        assert password not in outputs.out + outputs.err
        assert all(password not in str(v) for r in audit.records for v in r.values())


def test_the_command_line_audits_into_the_station_trail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("hmi.audit.trail")
    monkeypatch.setenv("CONDUIT_HOME", str(tmp_path / "home"))
    url = f"sqlite:///{tmp_path / 'other.sqlite'}"
    add = ["add", "root", "--role", "administrator", "--db", url, "--password-stdin"]
    assert run(monkeypatch, add, ROOT_PW) == 0
    assert run(monkeypatch, ["list", "--json", "--db", url]) == 0
    assert "added root" in capsys.readouterr().out
    assert not (tmp_path / "home" / "hmi.sqlite").exists()

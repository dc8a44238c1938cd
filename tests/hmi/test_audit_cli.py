"""`conduit audit`: listing with filters, verifying (clean and tampered), the default database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from hmi import cli
from hmi.audit.schema import audit_trail
from hmi.audit.trail import AuditTrail
from hmi.db import open_database
from tests.hmi.test_runtime import write_project


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "p").mkdir()
    return write_project(tmp_path / "p", 1)


def fill(engine: Engine, now: float) -> AuditTrail:
    times = iter([now - 2 * 86400, now - 600, now - 300, now - 60])
    trail = AuditTrail(engine, host="seat-1", clock=lambda: next(times))
    trail.record(user="alice", action="login")
    trail.record(user="alice", action="command.select", target="HS1.FCV101")
    trail.record(
        user="alice",
        action="command.operate",
        target="HS1.FCV101",
        old="closed",
        new="open",
        reason="flushing",
    )
    trail.record(user="bob", action="alarm.ack", target="HS1.TT101.hi")
    return trail


def test_list_and_verify_from_the_command_line(
    database: Engine, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import time

    fill(database, time.time())
    db = ["--db", database.url.render_as_string(hide_password=False)]
    assert cli.main(["audit", str(project), *db]) == 0
    out = capsys.readouterr().out
    assert out.startswith("3 audit record(s) of 'Runtime test'")  # the 2 days old login is out
    assert "alice@seat-1  command.operate  HS1.FCV101  closed -> open  (flushing)  [ok]" in out

    assert cli.main(["audit", str(project), *db, "--from=-3d", "--json", "--newest"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["seq"] for r in records] == [4, 3, 2, 1]
    assert records[1]["new"] == "open" and len(records[1]["hash"]) == 64

    assert cli.main(["audit", str(project), *db, "--user", "alice", "--action", "command."]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 audit record(s)") and "#2" in out and "#3" in out
    assert cli.main(["audit", str(project), *db, "--target", "HS1.TT101.hi", "--json"]) == 0
    assert [r["user"] for r in json.loads(capsys.readouterr().out)] == ["bob"]

    assert cli.main(["audit", str(project), *db, "--verify"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "ok: the audit trail of 'Runtime test' is intact: 4 record(s), head seq 4"
    )
    with database.connect() as conn:
        last_hash = conn.execute(audit_trail.select().where(audit_trail.c.seq == 4)).one().hash
    assert last_hash in out

    with database.begin() as conn:
        conn.execute(update(audit_trail).where(audit_trail.c.seq == 2).values(user="mallory"))
    assert cli.main(["audit", str(project), *db, "--verify", "--json"]) == 2
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["count"] == 4
    assert [(p["seq"], p["kind"]) for p in report["problems"]] == [(2, "edited")]


def test_the_default_database_is_the_installations(
    tmp_path: Path,
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import time

    home = tmp_path / "home"
    monkeypatch.setenv("CONDUIT_HOME", str(home))
    assert cli.main(["audit", str(project), "--verify"]) == 0  # nothing recorded yet
    assert "intact: 0 record(s)" in capsys.readouterr().out
    engine = open_database(None, home)
    try:
        fill(engine, time.time())
    finally:
        engine.dispose()
    assert cli.main(["audit", str(project), "--json", "--action", "login"]) == 0
    assert [r["seq"] for r in json.loads(capsys.readouterr().out)] == []  # 2 days ago
    assert cli.main(["audit", str(project), "--from=-3d", "--action", "login"]) == 0
    assert capsys.readouterr().out.startswith("1 audit record(s)")
    assert cli.main(["audit", str(project), "--verify"]) == 0
    assert "intact: 4 record(s), head seq 4" in capsys.readouterr().out


def test_mistakes_are_one_line_messages(
    tmp_path: Path, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--db", f"sqlite:///{tmp_path / 'a.sqlite'}"]
    assert cli.main(["audit", str(project), *db, "--from", "yesterday"]) == 2
    assert "bad time 'yesterday'" in capsys.readouterr().err
    assert cli.main(["audit", str(project), *db, "--from", "now", "--to=-1h"]) == 2
    assert "--to must be after --from" in capsys.readouterr().err
    assert cli.main(["audit", str(project), "--db", "nosuchdb://x/y", "--verify"]) == 2
    assert "--db: not a usable database URL" in capsys.readouterr().err

"""The station's local control endpoint: JSON requests over an authenticated local socket."""

from __future__ import annotations

import json
import os
import stat
import sys
from multiprocessing.connection import Client
from pathlib import Path
from typing import Any

import pytest

from hmi.control import ControlError, ControlServer, NotRunning, endpoint_path, request


def _fail(args: Any) -> Any:
    raise ValueError("tags: expected a list of tag names")


@pytest.fixture
def server(tmp_path: Path):
    srv = ControlServer(tmp_path, "Demo plant", {"echo": lambda args: {"got": args}, "fail": _fail})
    srv.start()
    yield srv
    srv.stop()


def test_requests_are_answered_and_errors_come_back_as_messages(
    server: ControlServer, tmp_path: Path
) -> None:
    assert request(tmp_path, "Demo plant", "echo", {"a": [1, "两"]}) == {"got": {"a": [1, "两"]}}
    with pytest.raises(ControlError, match="tags: expected a list"):
        request(tmp_path, "Demo plant", "fail")
    with pytest.raises(ControlError, match="unknown request 'nope'"):
        request(tmp_path, "Demo plant", "nope")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_the_endpoint_file_is_private_and_removed_at_stop(tmp_path: Path) -> None:
    srv = ControlServer(tmp_path, "Demo plant", {})
    srv.start()
    path = endpoint_path(tmp_path, "Demo plant")
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert json.loads(path.read_text())["pid"] == os.getpid()
    finally:
        srv.stop()
    assert not path.exists()
    with pytest.raises(NotRunning):
        request(tmp_path, "Demo plant", "echo")


def test_a_client_without_the_key_is_refused(server: ControlServer, tmp_path: Path) -> None:
    info = json.loads(endpoint_path(tmp_path, "Demo plant").read_text())
    with pytest.raises(Exception):  # noqa: B017 - multiprocessing raises AuthenticationError
        Client(info["address"], family=info["family"], authkey=b"wrong key")
    # the server keeps serving the rightful clients
    assert request(tmp_path, "Demo plant", "echo", {}) == {"got": {}}


def test_a_stale_endpoint_file_means_not_running(tmp_path: Path) -> None:
    path = endpoint_path(tmp_path, "Demo plant")
    path.parent.mkdir(parents=True)
    path.write_text(
        json.dumps({"family": "AF_UNIX", "address": str(tmp_path / "gone"), "key": "00", "pid": 1})
    )
    with pytest.raises(NotRunning, match="Demo plant"):
        request(tmp_path, "Demo plant", "echo")


@pytest.mark.skipif(sys.platform == "win32", reason="the Unix-socket wake-up; Windows uses pipes")
def test_stop_returns_when_the_accept_loop_has_already_ended(tmp_path: Path) -> None:
    """A stop racing a refused connection: nobody answers a handshake now; stop must not wait."""
    import socket
    import threading

    srv = ControlServer(tmp_path, "Demo plant", {})
    srv.start()
    srv._stopping.set()  # the stop as the accept loop sees it first ...
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:  # ... with a broken handshake
        assert srv._listener is not None
        sock.connect(srv._listener.address)
    assert srv._thread is not None
    srv._thread.join(10)
    assert not srv._thread.is_alive(), "the accept loop ended"
    stopper = threading.Thread(target=srv.stop, name="conduit-test-stop")
    stopper.start()
    stopper.join(10)
    assert not stopper.is_alive(), "stop() returned"
    assert not endpoint_path(tmp_path, "Demo plant").exists()

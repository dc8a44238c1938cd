"""The station's local control endpoint: other processes of the same user ask a running station.

A running station owns files no other process may open meanwhile (DuckDB allows one writing
process per file), and state that lives only in its memory. `conduit history`, `backup` and
`export` therefore ask the running station when there is one. Transport: the standard
library's `multiprocessing.connection` (a Unix socket, a named pipe on Windows) with its HMAC
challenge on a random key; messages are JSON (`send_bytes`), never pickles.

The station writes `<data>/run/<project slug>.json` (mode 0600: address, key, pid) while it
serves; a client that finds no such file, or cannot connect (a station killed without
cleaning up), gets `NotRunning` and may open the files itself.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path
from typing import Any

from hmi.resources import slug

__all__ = ["ControlError", "ControlServer", "NotRunning", "endpoint_path", "request"]

log = logging.getLogger("hmi.control")

Handler = Callable[[Mapping[str, Any]], Any]
_MAX_REQUEST = 1 << 20  # bytes


class NotRunning(Exception):
    """No station of this project is serving on this machine."""


class ControlError(Exception):
    """The station refused or failed a request; the message says why."""


def endpoint_path(data_dir: Path, project_name: str) -> Path:
    """The file that tells clients where a project's running station listens."""
    return data_dir / "run" / f"{slug(project_name)}.json"


class ControlServer:
    """Serves named requests (`op` -> handler) to local clients of the same user."""

    def __init__(self, data_dir: Path, project_name: str, handlers: Mapping[str, Handler]):
        self.path = endpoint_path(data_dir, project_name)
        self._handlers = dict(handlers)
        self._key = secrets.token_bytes(32)
        self._stopping = threading.Event()
        self._listener: Listener | None = None
        self._thread: threading.Thread | None = None
        self._workers: set[threading.Thread] = set()
        self._workers_lock = threading.Lock()
        self._socket_dir: str | None = None
        self._family = ""

    def start(self) -> None:
        """Listen and publish the endpoint file."""
        if sys.platform == "win32":
            family, address = "AF_PIPE", rf"\\.\pipe\conduit-{secrets.token_hex(8)}"
        else:  # a short private path: socket paths are limited to ~100 bytes
            self._socket_dir = tempfile.mkdtemp(prefix="conduit-")
            family, address = "AF_UNIX", os.path.join(self._socket_dir, "s")
        self._listener = Listener(address, family=family, authkey=self._key)
        self._family = family
        self.path.parent.mkdir(parents=True, exist_ok=True)
        info = {"family": family, "address": address, "key": self._key.hex(), "pid": os.getpid()}
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(info, f)
        os.replace(tmp, self.path)
        self._thread = threading.Thread(target=self._accept, name="conduit-control", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        listener = self._listener
        assert listener is not None
        while not self._stopping.is_set():
            try:
                conn = listener.accept()
            except Exception as exc:  # AuthenticationError, a broken handshake, or closing
                if not self._stopping.is_set():
                    log.warning("control: refused a connection (%s)", exc)
                continue
            if self._stopping.is_set():
                conn.close()
                break
            worker = threading.Thread(target=self._serve, args=(conn,), name="conduit-control-req")
            with self._workers_lock:
                self._workers.add(worker)
            worker.start()

    def _serve(self, conn: Connection) -> None:
        try:
            with conn:
                message = json.loads(conn.recv_bytes(_MAX_REQUEST))
                op = str(message.get("op", ""))
                handler = self._handlers.get(op)
                if handler is None:
                    reply: dict[str, Any] = {"ok": False, "error": f"unknown request {op!r}"}
                else:
                    try:
                        reply = {"ok": True, "result": handler(message.get("args") or {})}
                    except Exception as exc:
                        log.warning("control: %s failed: %s", op, exc)
                        reply = {"ok": False, "error": str(exc) or type(exc).__name__}
                conn.send_bytes(json.dumps(reply, default=str).encode())
        except (OSError, EOFError, ValueError) as exc:
            log.warning("control: bad request: %s", exc)
        finally:
            with self._workers_lock:
                self._workers.discard(threading.current_thread())

    def _wake(self, address: Any) -> None:
        """Connect once so a blocking accept() returns and sees the stop.

        On Unix a bare socket connect: it never waits for the handshake, which nobody may answer
        any more when the accept loop has already seen the stop (a client would then hang).
        """
        if self._family == "AF_UNIX":
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(5.0)
                sock.connect(address)
        else:  # a named pipe has no bare connect
            Client(address, authkey=self._key).close()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop listening, finish the requests in progress and remove the endpoint file."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self.path.unlink()
        listener = self._listener
        if listener is not None:
            with contextlib.suppress(Exception):
                self._wake(listener.address)
            listener.close()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._workers_lock:
            workers = list(self._workers)
        for worker in workers:
            worker.join(timeout)
        if self._socket_dir is not None:
            with contextlib.suppress(OSError):
                os.rmdir(self._socket_dir)


def request(
    data_dir: Path, project_name: str, op: str, args: Mapping[str, Any] | None = None
) -> Any:
    """Send one request to the project's running station and return its result.

    Raises NotRunning when no station serves, ControlError when it refused or failed.
    """
    path = endpoint_path(data_dir, project_name)
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        conn = Client(info["address"], family=info["family"], authkey=bytes.fromhex(info["key"]))
    except FileNotFoundError:
        raise NotRunning(f"no station of {project_name!r} is running") from None
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise NotRunning(f"no station of {project_name!r} answers ({exc})") from None
    with conn:
        conn.send_bytes(json.dumps({"op": op, "args": dict(args or {})}).encode())
        reply = json.loads(conn.recv_bytes())
    if not reply.get("ok"):
        raise ControlError(str(reply.get("error", "failed")))
    return reply.get("result")

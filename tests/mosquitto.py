"""A real mosquitto broker for tests: config in a temporary folder, optional TLS, passwords and ACL.

`Mosquitto(port, tls=TestCA(...), passwords={...}, acl="...")` writes `mosquitto.conf` (one
listener on 127.0.0.1:port, persistence on so retained messages survive `restart()`), starts
`/usr/sbin/mosquitto -c`, and waits (bounded) until the port accepts connections. `TestCA`
makes a throwaway CA, a server certificate for 127.0.0.1/localhost and client certificates with
`cryptography`. Tests that need a broker skip with a clear reason only when the binary is
missing (CI installs the Debian package `mosquitto`). Use the fixture by importing it:
`from tests.mosquitto import mosquitto_fixture  # noqa: F401`, then take `mosquitto`.
"""

from __future__ import annotations

import datetime as dt
import getpass
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import free_port

SEARCH = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/bin/mosquitto")


def mosquitto_binary() -> str | None:
    """Path of the mosquitto broker binary, or None when it is not installed."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return next((p for p in SEARCH if os.access(p, os.X_OK)), None)


def require_mosquitto() -> str:
    """The broker binary; skips the test when it is missing."""
    binary = mosquitto_binary()
    if binary is None:
        pytest.skip("mosquitto is not installed (Debian: apt-get install mosquitto)")
    return binary


class TestCA:
    """A throwaway certificate authority with a server certificate for 127.0.0.1 and localhost."""

    __test__ = False  # not a test class

    def __init__(self, folder: Path, name: str = "Conduit Test CA") -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self._x509, self._hashes, self._ser, self._ec = x509, hashes, serialization, ec
        self._oid = NameOID
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = dt.datetime.now(dt.UTC)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .sign(self._key, hashes.SHA256())
        )
        self.ca = folder / "ca.pem"
        self.ca.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))
        self.server_cert, self.server_key = self.issue("server", server=True)

    def issue(self, name: str, *, server: bool = False) -> tuple[Path, Path]:
        """A certificate and key signed by this CA (server: for 127.0.0.1 and localhost)."""
        x509, oid, ser = self._x509, self._oid, self._ser
        key = self._ec.generate_private_key(self._ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(oid.COMMON_NAME, name)]))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        )
        if server:
            names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self._key, self._hashes.SHA256())
        cert_path, key_path = self.folder / f"{name}.pem", self.folder / f"{name}.key"
        cert_path.write_bytes(cert.public_bytes(ser.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())
        )
        return cert_path, key_path


class Mosquitto:
    """A mosquitto process on 127.0.0.1:`port`, configured in its own temporary folder."""

    def __init__(
        self,
        port: int,
        *,
        tls: TestCA | None = None,
        passwords: dict[str, str] | None = None,
        acl: str | None = None,
        require_certificate: bool = False,
        folder: Path | None = None,
    ) -> None:
        self.binary = require_mosquitto()
        self.port = port
        self.tls = tls
        self._own_folder = folder is None
        self.folder = folder or Path(tempfile.mkdtemp(prefix="conduit-mosquitto-"))
        self.config = self.folder / "mosquitto.conf"
        self.logfile = self.folder / "mosquitto.log"
        self.process: subprocess.Popen[bytes] | None = None
        lines = [
            f"listener {port} 127.0.0.1",
            f"allow_anonymous {'false' if passwords else 'true'}",
            "persistence true",
            f"persistence_location {self.folder}/",
            f"user {getpass.getuser()}",
            "log_dest stdout",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
        ]
        if passwords:
            pw_file = self.folder / "passwords"
            for i, (user, password) in enumerate(passwords.items()):
                create = ["-c"] if i == 0 else []
                subprocess.run(
                    ["mosquitto_passwd", *create, "-b", str(pw_file), user, password],
                    check=True,
                    capture_output=True,
                    timeout=10,
                )
            lines.append(f"password_file {pw_file}")
        if acl is not None:
            acl_file = self.folder / "acl"
            acl_file.write_text(acl)
            lines.append(f"acl_file {acl_file}")
        if tls is not None:
            lines += [
                f"cafile {tls.ca}",
                f"certfile {tls.server_cert}",
                f"keyfile {tls.server_key}",
                f"require_certificate {'true' if require_certificate else 'false'}",
            ]
        self.config.write_text("\n".join(lines) + "\n")

    @property
    def running(self) -> bool:
        """True while the broker process is alive."""
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        """What the broker wrote to its log so far."""
        return self.logfile.read_text(errors="replace") if self.logfile.exists() else ""

    def start(self, within: float = 10.0) -> None:
        """Start the broker and wait until its port accepts connections."""
        assert not self.running, "already running"
        with self.logfile.open("ab") as out:
            self.process = subprocess.Popen(
                [self.binary, "-c", str(self.config)], stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + within
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"mosquitto exited with {self.process.returncode}:\n{self.log()}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"mosquitto did not listen on {self.port} within {within}s:\n{self.log()}"
                    ) from None
                time.sleep(0.02)

    def stop(self) -> None:
        """Stop the broker (SIGTERM, so it saves retained messages); kill it if it hangs."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGCONT)  # in case it was frozen
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    def freeze(self) -> None:
        """Suspend the broker (SIGSTOP): connections stay open but nothing is answered."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """Resume a frozen broker (SIGCONT)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """Kill the broker at once (SIGKILL, works when frozen): no goodbye, nothing saved."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(10)

    def restart(self) -> None:
        """Stop and start again on the same port (retained messages are kept)."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the broker and remove its folder (if this object made it)."""
        self.stop()
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)


class MqttPeer:
    """A plain paho client on its own network thread: publishes, and records what it receives."""

    def __init__(
        self, port: int, subscribe: tuple[str, ...] = (), *, ca: Path | None = None
    ) -> None:
        self.received: list[tuple[str, bytes]] = []
        self._subscribed = threading.Event()
        self._connected = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        if ca is not None:
            self.client.tls_set(str(ca))
        self.client.on_connect = lambda *_: self._connected.set()
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = lambda _c, _u, m: self.received.append((m.topic, bytes(m.payload)))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not self._connected.wait(10):
            self.close()
            raise RuntimeError(f"test peer could not connect to 127.0.0.1:{port}")
        if subscribe:
            self.client.subscribe([(t, 1) for t in subscribe])
            if not self._subscribed.wait(10):
                self.close()
                raise RuntimeError(f"test peer could not subscribe to {subscribe}")

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False) -> None:
        """Publish and wait (bounded) until the broker has it."""
        info = self.client.publish(topic, payload, qos, retain)
        info.wait_for_publish(10)
        if not info.is_published():
            raise RuntimeError(f"test peer could not publish to {topic}")

    def payloads(self, topic: str) -> list[bytes]:
        """Payloads received on `topic` so far."""
        return [p for t, p in list(self.received) if t == topic]

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> MqttPeer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


@pytest.fixture(name="mosquitto")
def mosquitto_fixture() -> Iterator[Mosquitto]:
    """A running plain (anonymous, no TLS) broker on a free port; stopped after the test."""
    broker = Mosquitto(free_port())
    broker.start()
    try:
        yield broker
    finally:
        broker.close()

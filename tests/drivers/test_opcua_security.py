"""OPC UA security: the application certificate, the server trust list, a secured endpoint."""

from __future__ import annotations

import asyncio
import datetime
import os
import shutil
import socket
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asyncua import ua
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from drivers.base import DeviceConfig, Point, Reason
from drivers.opcua.driver import OpcUaDriver
from drivers.opcua.security import (
    APP_URI_PREFIX,
    CertificateRejected,
    application_certificate,
    check_server_certificate,
    thumbprint,
)
from tests.conftest import free_port
from tests.drivers.conftest import Collector, run, wait_for
from tests.drivers.opcua_server import OpcUaTestServer


@pytest.fixture(scope="module")
def secure_server() -> Iterator[OpcUaTestServer]:
    """A server whose only endpoint is Basic256Sha256/SignAndEncrypt."""
    srv = OpcUaTestServer(free_port(), secure=True)
    srv.start_sync()
    yield srv
    srv.close()


def test_application_certificate_is_created_once(tmp_path: Path) -> None:
    own = application_certificate(tmp_path)
    assert own.cert_path == tmp_path / "pki" / "own" / "cert.der"
    assert own.key_path == tmp_path / "pki" / "own" / "key.pem"
    assert stat.S_IMODE(os.stat(own.key_path).st_mode) == 0o600
    assert own.application_uri == APP_URI_PREFIX + socket.gethostname()
    cert = x509.load_der_x509_certificate(own.cert_path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [own.application_uri]
    assert socket.gethostname() in san.get_values_for_type(x509.DNSName)
    years = (cert.not_valid_after_utc - cert.not_valid_before_utc).days / 365
    assert 9.9 < years < 10.1
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment and usage.data_encipherment
    again = application_certificate(tmp_path)
    assert (again.der, again.key_pem) == (own.der, own.key_pem)  # not re-created


def _cert(
    name: str,
    key: rsa.RSAPrivateKey,
    issuer: tuple[str, rsa.RSAPrivateKey] | None = None,
    days: int = 30,
) -> x509.Certificate:
    issuer_name, issuer_key = issuer or (name, key)
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=2))
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(issuer_key, hashes.SHA256())
    )


def test_trust_list_exact_ca_signed_and_expired(tmp_path: Path) -> None:
    ca_key, leaf_key = (rsa.generate_private_key(65537, 2048) for _ in range(2))
    ca = _cert("Plant CA", ca_key)
    leaf = _cert("PLC7", leaf_key, ("Plant CA", ca_key))
    leaf_der = leaf.public_bytes(serialization.Encoding.DER)
    with pytest.raises(CertificateRejected, match="'CN=PLC7'"):
        check_server_certificate("PLC7", tmp_path, leaf_der)
    trusted = tmp_path / "pki" / "trusted"
    (trusted / "plant-ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    check_server_certificate("PLC7", tmp_path, leaf_der)  # signed by a trusted CA
    (trusted / "plant-ca.pem").unlink()
    (trusted / "plc7.der").write_bytes(leaf_der)
    check_server_certificate("PLC7", tmp_path, leaf_der)  # trusted itself
    old = _cert("Old", leaf_key, days=-1)
    old_der = old.public_bytes(serialization.Encoding.DER)
    (trusted / "old.der").write_bytes(old_der)
    with pytest.raises(CertificateRejected, match="trusted but not valid now"):
        check_server_certificate("PLC7", tmp_path, old_der)


def device(srv: OpcUaTestServer, data_dir: Path | str, **options: Any) -> DeviceConfig:
    """The secure server as a device with security on and short reconnect delays."""
    options = {"security": "Basic256Sha256", "mode": "SignAndEncrypt"} | options
    options |= {"reconnect_min": 0.05, "reconnect_max": 0.3, "publishing_interval": 0.05}
    return DeviceConfig(
        "PLC1", "opcua", "127.0.0.1", srv.port, 2.0, options, data_dir=str(data_dir)
    )


async def _run_until(driver: OpcUaDriver, points: list[Point], condition: Any, what: str) -> None:
    task = asyncio.create_task(driver.run(points))
    try:
        await wait_for(condition, 10.0, what)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert driver._session is None


def test_secured_endpoint_refused_until_the_server_is_trusted(
    secure_server: OpcUaTestServer, tmp_path: Path
) -> None:
    secure_server.trusted_clients.add(application_certificate(tmp_path).der)
    point = Point(OpcUaDriver.parse(f"opcua://PLC1/{secure_server.nodeid('Name')}"), 0.05)
    thumb = thumbprint(secure_server.certificate)
    rejected = tmp_path / "pki" / "rejected" / (thumb.replace(":", "") + ".der")

    async def body() -> None:
        sink = Collector()
        sink.loop = asyncio.get_running_loop()
        driver = OpcUaDriver(device(secure_server, tmp_path), sink)
        task = asyncio.create_task(driver.run([point]))
        try:
            await wait_for(lambda: "not trusted" in driver.stats().last_error, 10.0, "refusal")
            error = driver.stats().last_error
            assert error == (
                f"PLC1: server certificate 'CN=Conduit Test Server' (SHA-1 thumbprint {thumb}) "
                f"is not trusted; to trust it, move {rejected} to {tmp_path / 'pki' / 'trusted'}/"
            )
            assert rejected.read_bytes() == secure_server.certificate
            assert sink.reason(point.key) == Reason.COMM_FAILURE and secure_server.sessions() == 0
            shutil.move(rejected, tmp_path / "pki" / "trusted")  # what the message says to do
            await wait_for(lambda: sink.value(point.key) == "Boiler 1", 10.0, "value once trusted")
            assert driver._session is not None
            policy = driver._session.client.security_policy
            assert policy.Mode == ua.MessageSecurityMode.SignAndEncrypt
            assert policy.URI.endswith("#Basic256Sha256")
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    run(body())


def test_the_server_refusing_our_certificate_says_what_to_trust(
    secure_server: OpcUaTestServer, tmp_path: Path
) -> None:
    (tmp_path / "pki" / "trusted").mkdir(parents=True)
    (tmp_path / "pki" / "trusted" / "server.der").write_bytes(secure_server.certificate)
    own = application_certificate(tmp_path)
    secure_server.trusted_clients.discard(own.der)

    async def body() -> None:
        driver = OpcUaDriver(device(secure_server, tmp_path), Collector())
        await _run_until(
            driver, [], lambda: "refused this HMI" in driver.stats().last_error, "refusal"
        )
        assert driver.stats().last_error == (
            "PLC1: the server refused this HMI's certificate (BadCertificateUntrusted); trust "
            f"{tmp_path}/pki/own/cert.der on the server (OPC UA servers usually list it under "
            "their rejected certificates)"
        )

    run(body())


def test_wrong_security_settings_are_named(secure_server: OpcUaTestServer, tmp_path: Path) -> None:
    async def body() -> None:
        plain = OpcUaDriver(device(secure_server, tmp_path, security="None"), Collector())
        await _run_until(
            plain, [], lambda: "offers no endpoint" in plain.stats().last_error, "no endpoint"
        )
        assert "offers no endpoint with security None" in plain.stats().last_error
        sign = OpcUaDriver(device(secure_server, tmp_path, mode="Sign"), Collector())
        await _run_until(
            sign, [], lambda: "offers no Basic256" in sign.stats().last_error, "no Sign endpoint"
        )
        assert "(it offers Basic256Sha256/SignAndEncrypt)" in sign.stats().last_error
        homeless = OpcUaDriver(device(secure_server, ""), Collector())
        await _run_until(
            homeless, [], lambda: "data folder" in homeless.stats().last_error, "no data_dir"
        )

    run(body())

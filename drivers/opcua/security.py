"""OPC UA security: this installation's application certificate and the trust list for servers.

Owns the folder layout under the device's `data_dir` (OPC UA's usual PKI layout):

    <data_dir>/pki/own/cert.der       this product's application instance certificate
    <data_dir>/pki/own/key.pem        its RSA private key (file mode 0600)
    <data_dir>/pki/trusted/           server certificates (or CAs) a person trusted, DER or PEM
    <data_dir>/pki/rejected/          server certificates seen but not trusted, as <SHA-1>.der

The certificate is created on first use: RSA 2048, SHA-256, valid 10 years, application URI
`urn:conduit-hmi:<hostname>` in its SubjectAltName (OPC UA requires the URI the client announces
to match it). A server certificate is accepted only when it, or the CA that signed it, is in
`trusted/`; otherwise it is saved to `rejected/` and the error says which file to move where.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from drivers.base import DriverError

log = logging.getLogger("drivers.opcua")

APP_URI_PREFIX = "urn:conduit-hmi:"
VALID_DAYS = 3650
_lock = threading.Lock()  # two devices sharing one data_dir must not create two certificates
_bad_files: set[Path] = set()  # trusted/ files that could not be read, warned about once


class CertificateRejected(DriverError):
    """A server certificate that is not in the trust list; the message says how to trust it."""


@dataclass(frozen=True, slots=True)
class AppCertificate:
    """This installation's application instance certificate and the files that hold it."""

    cert_path: Path
    key_path: Path
    application_uri: str
    der: bytes
    key_pem: bytes = field(repr=False, default=b"")


def pki_dir(data_dir: str | Path) -> Path:
    """The PKI folder of a data folder."""
    return Path(data_dir) / "pki"


def thumbprint(der: bytes) -> str:
    """SHA-1 thumbprint of a DER certificate as colon-separated hex (how OPC UA tools show it)."""
    digest = hashlib.sha1(der, usedforsecurity=False).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def subject(der: bytes) -> str:
    """The subject of a DER certificate as text, e.g. 'CN=PLC1,O=Plant'."""
    try:
        return x509.load_der_x509_certificate(der).subject.rfc4514_string()
    except ValueError:
        return "(unreadable certificate)"


def _uri_of(cert: x509.Certificate) -> str | None:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


def _usable(cert: x509.Certificate) -> bool:
    now = datetime.datetime.now(datetime.UTC)
    return cert.not_valid_before_utc <= now < cert.not_valid_after_utc - datetime.timedelta(days=1)


def _create(own: Path, hostname: str) -> None:
    """Write a new key (mode 0600) and self-signed application certificate into `own`."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    uri = APP_URI_PREFIX + hostname
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"Conduit HMI@{hostname}"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Conduit HMI"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(uri), x509.DNSName(hostname)]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=True,
                data_encipherment=True,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    own.mkdir(parents=True, exist_ok=True)
    key_path, cert_path = own / "key.pem", own / "cert.der"
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp_key = own / "key.pem.tmp"
    tmp_key.unlink(missing_ok=True)
    fd = os.open(tmp_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key_bytes)
    os.replace(tmp_key, key_path)
    tmp_cert = own / "cert.der.tmp"
    tmp_cert.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    os.replace(tmp_cert, cert_path)
    log.info("created OPC UA application certificate %s (%s)", cert_path, uri)


def application_certificate(data_dir: str | Path, hostname: str | None = None) -> AppCertificate:
    """This installation's certificate under <data_dir>/pki/own/, created on first use."""
    own = pki_dir(data_dir) / "own"
    cert_path, key_path = own / "cert.der", own / "key.pem"
    with _lock:
        cert: x509.Certificate | None = None
        if cert_path.is_file() and key_path.is_file():
            try:
                cert = x509.load_der_x509_certificate(cert_path.read_bytes())
            except ValueError:
                log.warning("%s is not a DER certificate; creating a new one", cert_path)
        if cert is None or not _usable(cert) or _uri_of(cert) is None:
            if cert is not None:
                log.warning(
                    "%s has expired or has no application URI; creating a new one", cert_path
                )
            _create(own, hostname or socket.gethostname())
            cert = x509.load_der_x509_certificate(cert_path.read_bytes())
    uri = _uri_of(cert)
    assert uri is not None
    der = cert.public_bytes(serialization.Encoding.DER)
    return AppCertificate(cert_path, key_path, uri, der, key_path.read_bytes())


def _load_trusted(folder: Path) -> list[x509.Certificate]:
    certs: list[x509.Certificate] = []
    if not folder.is_dir():
        return certs
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in (".der", ".pem", ".crt", ".cer") or not path.is_file():
            continue
        data = path.read_bytes()
        try:
            if b"-----BEGIN" in data:
                certs.extend(x509.load_pem_x509_certificates(data))
            else:
                certs.append(x509.load_der_x509_certificate(data))
        except ValueError:
            if path not in _bad_files:
                _bad_files.add(path)
                log.warning("%s is not a certificate (DER or PEM); ignored", path)
    return certs


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def check_server_certificate(device: str, data_dir: str | Path, der: bytes) -> None:
    """Accept a server certificate found in trusted/ (or signed by a CA there); else reject it.

    Raises CertificateRejected with a message naming the certificate and, the first time it
    is seen, saving it to rejected/<thumbprint>.der so a person can move it to trusted/.
    """
    pki = pki_dir(data_dir)
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        raise CertificateRejected(f"{device}: the server sent an unreadable certificate") from None
    trusted = _load_trusted(pki / "trusted")
    if any(t.public_bytes(serialization.Encoding.DER) == der for t in trusted) or any(
        _signed_by(cert, t) for t in trusted
    ):
        now = datetime.datetime.now(datetime.UTC)
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise CertificateRejected(
                f"{device}: server certificate '{subject(der)}' is trusted but not valid now "
                f"(valid {cert.not_valid_before_utc:%Y-%m-%d} "
                f"to {cert.not_valid_after_utc:%Y-%m-%d})"
            )
        return
    thumb = thumbprint(der)
    rejected = pki / "rejected" / (thumb.replace(":", "") + ".der")
    if not rejected.exists():
        rejected.parent.mkdir(parents=True, exist_ok=True)
        rejected.write_bytes(der)
    (pki / "trusted").mkdir(parents=True, exist_ok=True)
    raise CertificateRejected(
        f"{device}: server certificate '{subject(der)}' (SHA-1 thumbprint {thumb}) is not "
        f"trusted; to trust it, move {rejected} to {pki / 'trusted'}{os.sep}"
    )

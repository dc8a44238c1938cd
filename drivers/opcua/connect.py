"""Opening an OPC UA connection: device options, security and login, and errors people can act on.

Owns the device options of `opcua` devices (validated once, in `Options.of`), building and
connecting an asyncua `Client` (endpoint, security policy and mode, application certificate,
server trust check, user name and password), the request accounting that feeds `LinkStats`,
and `describe`, which turns asyncua's exceptions into one line that says what to do.

| option | type | default | meaning |
|---|---|---|---|
| `endpoint` | str | `opc.tcp://<host>:<port or 4840>` | full server URL, including any path |
| `security` | str | `None` | policy: `None`, `Basic256Sha256`, `Aes128Sha256RsaOaep`, … |
| `mode` | str | `SignAndEncrypt` | with a policy: `Sign` or `SignAndEncrypt` |
| `username` | str | (anonymous) | user name; the password comes from the OS keyring |
| `publishing_interval` | float | 0.5 s | how often the server sends changes (per subscription) |
| `sampling_interval` | float | scan class | default sampling interval of `mode=sub` points |
| `queue_size` | int | 1 | server-side queue per monitored item (1: latest value only) |
| `reconnect_min` | float | 0.5 s | first reconnect delay (exponential backoff with jitter) |
| `reconnect_max` | float | 30 s | longest reconnect delay |
| `watchdog` | float | 5 s | link probe period and timeout (a read of ServerStatus.State) |
| `batch_size` | int | 1000 | nodes per CreateMonitoredItems / Read request |
"""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.crypto import security_policies, uacrypto
from asyncua.observer import Observer
from asyncua.ua.uaerrors import UaError, UaStatusCodeError

from drivers.base import DeviceConfig, DriverError, parse_duration
from drivers.link import LinkMonitor
from drivers.opcua.security import (
    APP_URI_PREFIX,
    CertificateRejected,
    application_certificate,
    check_server_certificate,
)
from drivers.opcua.spec import OPTIONS

log = logging.getLogger("drivers.opcua")

_DEFAULTS: dict[str, Any] = {
    "security": "None",
    "mode": "SignAndEncrypt",
    "username": "",
    "publishing_interval": 0.5,
    "sampling_interval": None,
    "queue_size": 1,
    "reconnect_min": 0.5,
    "reconnect_max": 30.0,
    "watchdog": 5.0,
    "batch_size": 1000,
}
POLICIES: dict[str, type[security_policies.SecurityPolicy]] = {
    "Basic256Sha256": security_policies.SecurityPolicyBasic256Sha256,
    "Aes128Sha256RsaOaep": security_policies.SecurityPolicyAes128Sha256RsaOaep,
    "Aes256Sha256RsaPss": security_policies.SecurityPolicyAes256Sha256RsaPss,
}
MODES = ("Sign", "SignAndEncrypt")
SESSION_TIMEOUT_MS = 60_000  # the server drops our session a minute after we vanish
_LOGIN_REFUSED = ("BadUserAccessDenied", "BadIdentityTokenRejected", "BadIdentityTokenInvalid")
_CERT_REFUSED = (
    "BadCertificateUntrusted",
    "BadSecurityChecksFailed",
    "BadCertificateInvalid",
    "BadCertificateUriInvalid",
    "BadCertificateUseNotAllowed",
    "BadCertificateTimeInvalid",
)


class _QuietLinkLoss(logging.Filter):
    """Drop asyncua's tracebacks for a lost link: the driver reports link loss once itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionError | OSError | TimeoutError)


# asyncua logs warnings for routine events (revised timeouts, closing a dead session) and a
# traceback every second while a link is down; this driver logs each state change once.
logging.getLogger("asyncua").setLevel(logging.ERROR)
for _name in ("asyncua.client.ua_session.UaSession", "asyncua.client.client"):
    logging.getLogger(_name).addFilter(_QuietLinkLoss())


@dataclass(frozen=True, slots=True)
class Options:
    """The validated options of one `opcua` device (see the module table)."""

    endpoint: str
    security: str
    mode: str
    username: str
    publishing_interval: float
    sampling_interval: float | None
    queue_size: int
    reconnect_min: float
    reconnect_max: float
    watchdog: float
    batch_size: int

    @classmethod
    def of(cls, device: DeviceConfig) -> Options:
        """Validate a device's options; raise DriverError naming the device and option."""
        unknown = sorted(set(device.options) - set(OPTIONS))
        if unknown:
            expected = ", ".join(OPTIONS)
            raise DriverError(f"{device.name}: unknown option {unknown[0]!r} (expected {expected})")
        values: dict[str, Any] = {}
        for name, kind in OPTIONS.items():
            raw = device.options.get(name, _DEFAULTS.get(name))
            if raw is None:
                values[name] = None
                continue
            try:
                if kind is float:
                    values[name] = parse_duration(raw)
                elif kind is int:
                    if isinstance(raw, bool) or int(raw) < 1:
                        raise ValueError("must be a whole number above zero")
                    values[name] = int(raw)
                else:
                    values[name] = str(raw)
            except (TypeError, ValueError) as exc:
                raise DriverError(f"{device.name}: option {name}={raw!r}: {exc}") from None
        if values["endpoint"] is None:
            values["endpoint"] = f"opc.tcp://{device.host}:{device.port or 4840}"
        if not values["endpoint"].startswith("opc.tcp://"):
            raise DriverError(
                f"{device.name}: option endpoint={values['endpoint']!r}: expected an "
                "opc.tcp:// URL (e.g. opc.tcp://10.0.0.6:4840/server/)"
            )
        if values["security"] != "None" and values["security"] not in POLICIES:
            known = ", ".join(("None", *POLICIES))
            raise DriverError(
                f"{device.name}: option security={values['security']!r}: expected one of {known}"
            )
        if values["mode"] not in MODES:
            raise DriverError(
                f"{device.name}: option mode={values['mode']!r}: expected Sign or SignAndEncrypt"
            )
        if values["reconnect_max"] < values["reconnect_min"]:
            raise DriverError(f"{device.name}: reconnect_max must not be below reconnect_min")
        return cls(**values)


class Accounting(Observer):
    """Feeds every service request's outcome and duration into a LinkMonitor."""

    def __init__(self, monitor: LinkMonitor) -> None:
        self._monitor = monitor

    def on_request(self, request_type: str, duration: float, error: BaseException | None) -> None:
        """Count one request: publish responses count, reads and writes also give an RTT."""
        if error is None:
            if request_type == "PublishRequest":  # held by the server until data: no RTT
                self._monitor.requests += 1
            else:
                self._monitor.ok(duration)
        elif isinstance(error, TimeoutError):
            self._monitor.timeout()
        elif isinstance(error, UaStatusCodeError):
            self._monitor.error(f"{request_type}: {error.__class__.__name__}")
        elif not isinstance(error, asyncio.CancelledError):
            self._monitor.failure(f"{request_type}: {error!r}")


def first_certificate(der: bytes) -> bytes:
    """The first certificate of a DER blob that may hold a whole chain."""
    if len(der) < 4 or der[0] != 0x30:
        return der
    if der[1] < 0x80:
        return der[: 2 + der[1]]
    width = der[1] & 0x7F
    length = int.from_bytes(der[2 : 2 + width], "big")
    return der[: 2 + width + length]


def _status(exc: BaseException) -> ua.StatusCode | None:
    if isinstance(exc, UaStatusCodeError):
        return ua.StatusCode(ua.UInt32(exc.code))
    return None


def describe(exc: BaseException, device: DeviceConfig, options: Options) -> str:
    """One line a person can act on for a failed connect or a lost link."""
    url = options.endpoint
    status = _status(exc)
    name = status.name if status is not None else ""
    if isinstance(exc, CertificateRejected | DriverError):
        return str(exc)
    if name in _LOGIN_REFUSED:
        if not options.username:
            return (
                f"{device.name}: the server refused an anonymous login ({name}); set the "
                "device's username option and store its password in the keyring"
            )
        return (
            f"{device.name}: login refused for user {options.username!r} ({name}); check the "
            "user name and the password stored in the keyring"
        )
    if name in _CERT_REFUSED:
        own = Path(device.data_dir) / "pki" / "own" / "cert.der"
        where = str(own) if device.data_dir else "its certificate"
        return (
            f"{device.name}: the server refused this HMI's certificate ({name}); trust {where} "
            "on the server (OPC UA servers usually list it under their rejected certificates)"
        )
    if status is not None:
        return f"{device.name}: {url}: {name} ({status.doc})"
    if isinstance(exc, UaError) and "No matching endpoints" in str(exc):
        return (
            f"{device.name}: {url} offers no endpoint with security {options.security}"
            + ("" if options.security == "None" else f"/{options.mode}")
            + "; set the device's security and mode options to one the server offers"
        )
    if isinstance(exc, ConnectionRefusedError):
        return f"{device.name}: cannot connect to {url}: connection refused"
    if isinstance(exc, TimeoutError):
        return f"{device.name}: no answer from {url} within {device.timeout:g}s"
    if isinstance(exc, OSError):
        return f"{device.name}: cannot connect to {url}: {exc.strerror or exc!r}"
    return f"{device.name}: {url}: {exc!r}"


async def _secure(client: Client, device: DeviceConfig, options: Options) -> None:
    """Load our certificate, pick the endpoint, check the server's certificate is trusted."""
    if not device.data_dir:
        raise DriverError(
            f"{device.name}: security {options.security} needs a data folder for this HMI's "
            "certificate, and none is configured"
        )
    own = await asyncio.to_thread(application_certificate, device.data_dir)
    client.application_uri = own.application_uri
    policy = POLICIES[options.security]
    mode = ua.MessageSecurityMode[options.mode]
    endpoints = await client.connect_and_get_server_endpoints()
    matching = [
        e for e in endpoints if e.SecurityPolicyUri == policy.URI and e.SecurityMode == mode
    ]
    if not matching:
        offered = sorted(
            {f"{e.SecurityPolicyUri.rsplit('#', 1)[-1]}/{e.SecurityMode.name}" for e in endpoints}
        )
        raise DriverError(
            f"{device.name}: {options.endpoint} offers no {options.security}/{options.mode} "
            f"endpoint (it offers {', '.join(offered) or 'none'})"
        )
    server_der = first_certificate(matching[0].ServerCertificate or b"")
    await asyncio.to_thread(check_server_certificate, device.name, device.data_dir, server_der)
    await client.set_security(
        policy,
        uacrypto.CertProperties(own.der, "der"),
        uacrypto.CertProperties(own.key_pem, "pem"),
        server_certificate=uacrypto.CertProperties(server_der, "der"),
        mode=mode,
    )


async def open_client(
    device: DeviceConfig, options: Options, observer: Observer | None = None
) -> Client:
    """A connected asyncua Client for `device` (session activated); raises on failure."""
    client = Client(options.endpoint, timeout=device.timeout, watchdog_intervall=options.watchdog)
    client.name = "Conduit HMI"
    client.description = f"Conduit HMI {device.name}"
    client.product_uri = "urn:conduit-hmi"
    client.application_uri = APP_URI_PREFIX + socket.gethostname()
    client.session_timeout = SESSION_TIMEOUT_MS
    if observer is not None:
        client.uaclient.observer = observer
    if options.username:
        client.set_user(options.username)
        client.set_password(device.password or "")
    connected = False
    try:
        async with asyncio.timeout(
            8 * device.timeout + 1.0
        ):  # a backstop: each request has its own
            if options.security != "None":
                await _secure(client, device, options)
            await client.connect()
        connected = True
    finally:
        if not connected:  # also when cancelled mid-connect: leave no socket behind
            client.disconnect_socket()
    return client

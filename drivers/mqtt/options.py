"""Device options of an MQTT broker link: names, types, defaults, TLS context, words for failures.

Pure helpers for `session`: reading the typed options of a `DeviceConfig`, building the client
TLS context from the `ca`/`cert`/`key` files, and turning connect failures and refused CONNACKs
into one line a person can act on.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Mapping
from typing import Any

from paho.mqtt.reasoncodes import ReasonCode

from drivers.base import DeviceConfig, DriverError, parse_duration

# device options a broker session reads, name -> type; anything else in `options` is left alone
SESSION_OPTIONS: Mapping[str, type] = {
    "username": str,
    "tls": bool,
    "ca": str,
    "cert": str,
    "key": str,
    "tls_insecure": bool,
    "keepalive": float,
    "client_id": str,
    "qos": int,
    "reconnect_min": float,
    "reconnect_max": float,
    "connect_timeout": float,
    "mqtt_version": str,
}
DEFAULTS: Mapping[str, Any] = {
    "username": "",
    "tls": False,
    "ca": "",
    "cert": "",
    "key": "",
    "tls_insecure": False,  # true: do not check the broker's host name against its certificate
    "keepalive": 30.0,
    "client_id": "",
    "qos": 1,
    "reconnect_min": 0.5,
    "reconnect_max": 30.0,
    "connect_timeout": 5.0,
    "mqtt_version": "5",  # "5" or "3.1.1"
}
MQTT_VERSIONS = ("5", "3.1.1")


def read_options(
    device: DeviceConfig, names: Mapping[str, type], defaults: Mapping[str, Any] = DEFAULTS
) -> dict[str, Any]:
    """The named options of a device, typed and defaulted; raises DriverError for a bad value."""
    result: dict[str, Any] = {}
    for name, kind in names.items():
        raw = device.options.get(name, defaults.get(name))
        try:
            if kind is bool:
                if not isinstance(raw, bool):
                    raise ValueError("expected true or false")
                value: Any = raw
            elif kind is str:
                if not isinstance(raw, str):
                    raise ValueError("expected text")
                value = raw
            elif isinstance(raw, bool):
                raise ValueError("expected a number")
            elif kind is float:
                value = parse_duration(raw)
            else:
                value = kind(raw)
        except (TypeError, ValueError) as exc:
            raise DriverError(f"{device.name}: option {name}={raw!r}: {exc}") from None
        result[name] = value
    if result.get("qos", 1) not in (0, 1, 2):
        raise DriverError(f"{device.name}: option qos={result['qos']!r}: expected 0, 1 or 2")
    if result.get("mqtt_version", "5") not in MQTT_VERSIONS:
        raise DriverError(
            f"{device.name}: option mqtt_version={result['mqtt_version']!r}: expected "
            + " or ".join(repr(v) for v in MQTT_VERSIONS)
        )
    if result.get("reconnect_max", 1.0) < result.get("reconnect_min", 0.0):
        raise DriverError(f"{device.name}: reconnect_max must not be below reconnect_min")
    return result


class TlsContext(ssl.SSLContext):
    """A client SSLContext that remembers the sockets it wrapped, so a failed handshake's
    socket can be closed (paho leaves it open when `do_handshake` raises)."""

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        sock = super().wrap_socket(*args, **kwargs)
        self.__dict__.setdefault("wrapped", []).append(sock)
        return sock

    def close_wrapped(self) -> None:
        """Close every socket this context wrapped."""
        for sock in self.__dict__.pop("wrapped", []):
            sock.close()


def tls_context(opts: Mapping[str, Any]) -> TlsContext:
    """A client TLS context from the ca/cert/key options (system CAs when no ca is given)."""
    for option in ("ca", "cert", "key"):
        path = opts[option]
        if path:
            try:
                with open(path, "rb"):
                    pass
            except OSError as exc:
                raise DriverError(
                    f"TLS: cannot read the {option} file {path} ({exc.strerror})"
                ) from None
    try:
        context = TlsContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the certificate and host name
        if opts["ca"]:
            context.load_verify_locations(cafile=opts["ca"])
        else:
            context.load_default_certs(ssl.Purpose.SERVER_AUTH)
        if opts["cert"]:
            context.load_cert_chain(opts["cert"], opts["key"] or None)
    except ssl.SSLError as exc:
        raise DriverError(f"TLS: cannot load the certificates ({exc.reason or exc})") from None
    return context


def refusal(code: ReasonCode) -> str:
    """A person's words for a refused CONNACK."""
    name = code.getName()
    lower = name.lower()
    if "user name or password" in lower:
        return "the broker refused the login (bad user name or password)"
    if "not authori" in lower:
        # mosquitto 2.0 answers a wrong password with this code too, in MQTT 3.1.1 and 5
        return "the broker refused the login (not authorised: check the user name and password)"
    if "identifier" in lower:
        return f"the broker rejected the client id ({name})"
    if "protocol version" in lower:
        return f"the broker does not speak this MQTT version ({name}); try mqtt_version = '3.1.1'"
    return f"the broker refused the connection ({name})"


def describe(exc: BaseException, where: str, opts: Mapping[str, Any]) -> str:
    """One line saying why connecting to `where` (host:port) failed."""
    if isinstance(exc, DriverError):
        return str(exc)
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = exc.verify_message or exc.reason or str(exc)
        if "mismatch" in detail.lower():
            return f"TLS: the certificate of {where} is not valid for this host name ({detail})"
        hint = (
            f"is the 'ca' option ({opts['ca']}) the CA that signed it?"
            if opts["ca"]
            else "set the 'ca' option to the CA file that signed it"
        )
        return f"TLS: the certificate of {where} is not trusted ({detail}); {hint}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake with {where} failed ({exc.reason or exc})"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the broker host of {where} ({exc.strerror})"
    if isinstance(exc, TimeoutError):
        return f"no answer from {where} within {opts['connect_timeout']:g}s"
    if isinstance(exc, ConnectionRefusedError):
        return f"cannot connect to {where} (connection refused)"
    if isinstance(exc, OSError):
        return f"cannot connect to {where} ({exc.strerror or exc})"
    return f"cannot connect to {where} ({type(exc).__name__}: {exc})"


def is_transport(reason: str) -> bool:
    """True for "the broker cannot be reached" reasons (as opposed to TLS, login, config)."""
    return reason.startswith(
        ("cannot connect to", "no answer from", "no CONNACK", "cannot resolve")
    )

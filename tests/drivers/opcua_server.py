"""An asyncua test server on 127.0.0.1, in its own thread and event loop, for the OPC UA tests.

`OpcUaTestServer` builds namespace `urn:conduit:test` (index 2) with a folder Plant/HS1 of
variables of several types (`ns=2;s=HS1.<name>`, see NODES), a numeric node `ns=2;i=5001`, and
optionally `bulk` Doubles `ns=2;s=Bulk.<n>`. `set` writes a value with a status code and a
source timestamp, `stop`/`start` drop and restore the listener (same port, same values).
Anonymous login is allowed; the user `operator` with password `secret` too, any other login is
refused. With `struct=True` there is also `ns=2;s=HS1.Pump1`, of a custom structure type
PumpStatus {Running, Speed} (the server in its own process has it). With `secure=True` the only
endpoint is Basic256Sha256/SignAndEncrypt with its own self-signed certificate, and only client
certificates in `trusted_clients` are accepted.

`python -m tests.drivers.opcua_server PORT --bulk N --period S` serves N bulk nodes and rewrites
all of them every S seconds (a random walk), for benchmarks; it prints "ready" when listening.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import logging
import random
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

from asyncua import Server, ua
from asyncua.common.structures104 import new_struct, new_struct_field
from asyncua.common.utils import ServiceError
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server import monitored_item_service
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

T = TypeVar("T")
NAMESPACE = "urn:conduit:test"
SERVER_URI = "urn:conduit:test:server"
# name -> (initial value, variant type, writable)
NODES: dict[str, tuple[Any, ua.VariantType, bool]] = {
    "TT101": (20.5, ua.VariantType.Double, True),
    "FT101": (1.5, ua.VariantType.Float, True),
    "PT101": (3, ua.VariantType.Int16, True),
    "Count": (100, ua.VariantType.Int32, True),
    "Pump": (False, ua.VariantType.Boolean, True),
    "Name": ("Boiler 1", ua.VariantType.String, True),
    "Temps": ([1.0, 2.0, 3.0, 4.0], ua.VariantType.Double, True),
    "Status": (1.0, ua.VariantType.Double, True),
    "ReadOnly": (7.0, ua.VariantType.Double, False),
    "泵1": (3.3, ua.VariantType.Double, True),
}


class _Users:
    """Anonymous, or operator/secret; anything else is refused (BadUserAccessDenied)."""

    def get_user(self, iserver: Any, username: str | None = None, password: str | None = None,
                 certificate: Any = None) -> User | None:  # fmt: skip
        if username is None:
            return User(role=UserRole.User)
        if username == "operator" and password == "secret":
            return User(role=UserRole.User, name=username)
        return None


def server_certificate(host: str = "localhost") -> tuple[bytes, bytes]:
    """A self-signed server certificate (DER) and key (PEM) with SERVER_URI in its SAN."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Conduit Test Server")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(SERVER_URI), x509.DNSName(host)]
            ),
            critical=False,
        )
        .add_extension(
            x509.KeyUsage(True, True, True, True, False, False, False, False, False), critical=True
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.DER), pem


class OpcUaTestServer:
    """An asyncua Server on its own loop thread; control it from any loop with the async API."""

    def __init__(
        self,
        port: int,
        *,
        bulk: int = 0,
        secure: bool = False,
        struct: bool = False,
        own_thread: bool = True,
    ) -> None:
        self.port = port
        self.bulk = bulk
        self.secure = secure
        self.struct = struct
        self.url = f"opc.tcp://127.0.0.1:{port}/"
        self.trusted_clients: set[bytes] = set()
        self.certificate = b""
        self.server: Server | None = None
        self.ids: dict[str, ua.NodeId] = {}
        self.loop = asyncio.new_event_loop() if own_thread else asyncio.get_event_loop()
        self._thread: threading.Thread | None = None
        if own_thread:
            self._thread = threading.Thread(target=self.loop.run_forever, name="conduit-test-opcua")
            self._thread.start()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run `coro` on the server's loop from a thread without a loop (fixtures)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def acall(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the server's loop and await it from another loop (tests)."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def nodeid(self, name: str) -> str:
        """NodeId text of a node, e.g. 'ns=2;s=HS1.TT101'."""
        return self.ids[name].to_string()

    async def _build(self) -> None:
        server = Server(user_manager=_Users())  # type: ignore[arg-type]
        await server.init()
        server.set_endpoint(self.url)
        server.set_server_name("Conduit test server")
        if self.secure:
            self.certificate, key = server_certificate()
            await server.set_application_uri(SERVER_URI)
            await server.load_certificate(self.certificate, format="der")
            await server.load_private_key(key, format="pem")
            server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])

            async def validate(cert: x509.Certificate, _app: ua.ApplicationDescription) -> None:
                if cert.public_bytes(serialization.Encoding.DER) not in self.trusted_clients:
                    raise ServiceError(ua.StatusCodes.BadCertificateUntrusted)

            server.set_certificate_validator(validate)
        idx = await server.register_namespace(NAMESPACE)
        plant = await server.nodes.objects.add_folder(ua.NodeId("Plant", idx), "Plant")
        hs1 = await plant.add_folder(ua.NodeId("HS1", idx), "HS1")
        for name, (value, vtype, writable) in NODES.items():
            node = await hs1.add_variable(ua.NodeId(f"HS1.{name}", idx), name, value, vtype)
            if writable:
                await node.set_writable()
            self.ids[name] = node.nodeid
        numeric = await hs1.add_variable(ua.NodeId(5001, idx), "Numeric", 42, ua.VariantType.UInt32)
        self.ids["Numeric"] = numeric.nodeid
        if self.bulk:
            # in groups of 100: asyncua adds a child in time linear in its siblings
            bulk = await plant.add_folder(ua.NodeId("Bulk", idx), "Bulk")
            for group in range(0, self.bulk, 100):
                folder = await bulk.add_folder(ua.NodeId(f"Bulk/{group}", idx), f"G{group}")
                for i in range(group, min(group + 100, self.bulk)):
                    node = await folder.add_variable(
                        ua.NodeId(f"Bulk.{i}", idx), f"B{i}", float(i), ua.VariantType.Double
                    )
                    self.ids[f"Bulk.{i}"] = node.nodeid
        if self.struct:  # a custom structure: clients must load its definition to decode it
            pump, _ = await new_struct(
                server,
                idx,
                "PumpStatus",
                [
                    new_struct_field("Running", ua.VariantType.Boolean),
                    new_struct_field("Speed", ua.VariantType.Double),
                ],
            )
            await server.load_data_type_definitions()
            value = ua.PumpStatus(Running=True, Speed=1450.0)  # type: ignore[attr-defined]
            node = await hs1.add_variable(
                ua.NodeId("HS1.Pump1", idx), "Pump1", value, datatype=pump.nodeid
            )
            self.ids["Pump1"] = node.nodeid
        await server.start()
        self.server = server

    def start_sync(self) -> None:
        """Build and start the server (blocking; from a fixture)."""
        self.call(self._build(), timeout=60)

    def close(self) -> None:
        """Stop the server and its thread (blocking; from a fixture)."""
        if self.server is not None:
            self.call(self._stop())

        async def cancel_rest() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.call(cancel_rest())
        if self._thread is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()

    async def _set(
        self, name: str, value: Any, status: int, when: datetime.datetime | None
    ) -> None:
        assert self.server is not None
        vtype = NODES[name][1] if name in NODES else ua.VariantType.Double
        now = datetime.datetime.now(datetime.UTC)
        dv = ua.DataValue(
            ua.Variant(value, vtype),
            StatusCode=ua.StatusCode(status),
            SourceTimestamp=when or now,
            ServerTimestamp=now,
        )
        await self.server.write_attribute_value(self.ids[name], dv)

    async def set(
        self,
        name: str,
        value: Any,
        status: int = ua.StatusCodes.Good,
        when: datetime.datetime | None = None,
    ) -> None:
        """Give a node a value, status code and source timestamp (now if None)."""
        await self.acall(self._set(name, value, status, when))

    async def set_many(self, values: dict[str, Any]) -> None:
        """Give several nodes new values at once (one step on the server's loop)."""

        async def go() -> None:
            for name, value in values.items():
                await self._set(name, value, ua.StatusCodes.Good, None)

        await self.acall(go())

    async def get(self, name: str) -> ua.DataValue:
        """A node's current DataValue."""
        assert self.server is not None
        return await self.acall(self._read(name))

    async def _read(self, name: str) -> ua.DataValue:
        assert self.server is not None
        return self.server.read_attribute_value(self.ids[name])

    async def _stop(self) -> None:
        assert self.server is not None and self.server.bserver is not None
        # stop accepting first: asyncua's stop() closes the client connections before the
        # listener, so a client that reconnects at once gets in, and stop() waits for it forever
        listener = self.server.bserver._server
        if listener is not None:
            listener.close()
        await self.server.stop()

    async def stop(self) -> None:
        """Close the listener and every client connection (the address space stays)."""
        await self.acall(self._stop())

    async def start(self) -> None:
        """Listen again on the same port."""
        assert self.server is not None
        await self.acall(self.server.start())

    def sessions(self) -> int:
        """Sessions the server holds for clients right now."""
        assert self.server is not None
        return len(self.server.iserver._external_sessions)


def _keep_without_copy(values: Any, value: ua.DataValue) -> None:
    values.old_dvalue, values.current_dvalue = values.current_dvalue, value


async def _serve(port: int, bulk: int, period: float) -> None:
    # asyncua deep-copies every DataValue it reports (~0.3 ms each), which caps this server
    # near 2,500 changes/s; each write below is a fresh DataValue, so the copy is not needed
    monitored_item_service.MonitoredItemValues.set_current_datavalue = _keep_without_copy  # type: ignore[method-assign]
    server = OpcUaTestServer(port, bulk=bulk, struct=True, own_thread=False)  # on this loop
    await server._build()
    assert server.server is not None
    iserver = server.server.iserver
    ids = [server.ids[f"Bulk.{i}"] for i in range(bulk)]
    values = [random.uniform(20, 90) for _ in ids]
    print("ready", flush=True)
    while True:
        start = time.monotonic()
        now = datetime.datetime.now(datetime.UTC)
        for i, node in enumerate(ids):
            values[i] += random.uniform(-0.5, 0.5)
            dv = ua.DataValue(
                ua.Variant(values[i], ua.VariantType.Double),
                SourceTimestamp=now,
                ServerTimestamp=now,
            )
            await iserver.write_attribute_value(node, dv)
        await asyncio.sleep(max(0.0, period - (time.monotonic() - start)))


def main() -> None:
    """Serve bulk nodes that all change every period, until killed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--bulk", type=int, default=10_000)
    parser.add_argument("--period", type=float, default=1.0)
    args = parser.parse_args()
    logging.getLogger("asyncua").setLevel(logging.ERROR)  # its start-up warnings are noise here
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.port, args.bulk, args.period))


if __name__ == "__main__":
    main()

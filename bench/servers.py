"""Modbus TCP servers for benchmarks, run in their own process so they do not share our CPU.

`python -m bench.servers PORT [PORT ...] --registers N` serves N holding registers per port
and rewrites all of them (a random walk of float32 values) every 0.5 s, so every tag changes
at every 1 s scan. Prints "ready" once all ports listen.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import socket
import struct
import sys

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _floats_to_registers(values: list[float]) -> list[int]:
    raw = struct.pack(f">{len(values)}f", *values)
    return list(struct.unpack(f">{len(values) * 2}H", raw))


async def serve(ports: list[int], registers: int) -> None:
    servers = []
    for port in ports:
        regs = [SimData(0, count=registers, values=0, datatype=DataType.REGISTERS)]
        bits = [SimData(0, values=[False] * 16, datatype=DataType.BITS)]
        device = SimDevice(id=1, simdata=(bits, bits, regs, regs))
        server = ModbusTcpServer(device, address=("127.0.0.1", port))
        await server.serve_forever(background=True)
        servers.append(server)
    print("ready", flush=True)
    values = [random.uniform(20, 90) for _ in range(registers // 2)]
    while True:
        values = [v + random.uniform(-0.5, 0.5) for v in values]
        regs = _floats_to_registers(values)
        for server in servers:
            await server.context.async_setValues(1, 3, 0, regs)
        await asyncio.sleep(0.5)


def main() -> None:
    """Serve until killed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("ports", type=int, nargs="+")
    parser.add_argument("--registers", type=int, default=2000)
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.ports, args.registers))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()

"""`make bench`: print every benchmark's figures."""

from __future__ import annotations

import logging
import sys

from bench import modbus_path


def main() -> int:
    """Run the benchmarks in turn."""
    logging.basicConfig(level=logging.WARNING)
    print("== Modbus request coalescing ==", flush=True)
    modbus_path.coalescing()
    print("== Modbus driver -> TagStore, 10,000 tags at 1 s ==", flush=True)
    modbus_path.throughput()
    return 0


if __name__ == "__main__":
    sys.exit(main())

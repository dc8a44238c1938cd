"""`make bench`: print every benchmark's figures (`python -m bench [NAME ...]` runs some)."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Callable

from bench import (
    alarms,
    commands,
    diagnostics,
    history,
    history_ingest,
    history_report,
    modbus_path,
    mqtt,
    opcua,
    publish,
    screens_load,
    screens_startup,
    security,
)

BENCHES: dict[str, tuple[str, Callable[[], None]]] = {
    "coalescing": ("Modbus request coalescing", modbus_path.coalescing),
    "modbus": ("Modbus driver -> TagStore, 10,000 tags at 1 s", modbus_path.throughput),
    "opcua": ("OPC UA data-change notifications, 10,000 monitored items", opcua.notifications),
    "mqtt": ("MQTT tag values into the driver: single vs batched messages", mqtt.throughput),
    "publish": ("Publisher: values out, store-and-forward replay", publish.throughput),
    "history-ingest": ("Historian: queue -> DuckDB ingest", history.ingest),
    "history-sustained": (
        "Historian: sustained ingest next to a scanning runtime",
        history_ingest.sustained,
    ),
    "history-storage": ("Historian: bytes per value, live and compacted", history.storage),
    "history-trend": ("Historian: trend queries, 8 pens x a year of 1 s data", history.trend),
    "alarms": ("Alarm engine: 50,000 alarmed tags at 1 s", alarms.evaluations),
    "command": ("Command round trip: confirm -> verified read-back", commands.round_trip),
    "alarms-flood": ("Alarm flood: 5,000 activations into the journal", alarms.flood),
    "diagnostics": (
        "Diagnostics: 10,000 checked tags, rules, leak balances",
        diagnostics.evaluations,
    ),
    "history-report": (
        "Historian: hourly report aggregates, 200 tags x 30 days",
        history_report.report,
    ),
    "login": ("Login: scrypt password check with the default parameters", security.login),
    "startup": (
        "Operator application: start to the first window with live values",
        screens_startup.startup,
    ),
    "screens": (
        "Qt thread: 250 live symbols + 8 pens x 10,000 points at 10 Hz, core at 50,000 updates/s",
        screens_load.load,
    ),
}


def main(argv: list[str]) -> int:
    """Run the named benchmarks (all by default) in turn."""
    logging.basicConfig(level=logging.WARNING)
    # stations started by benchmarks keep their history and spool files out of the user's folder
    os.environ["CONDUIT_HOME"] = tempfile.mkdtemp(prefix="conduit-bench-home-")
    names = argv or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)} (known: {', '.join(BENCHES)})")
        return 2
    for name in names:
        title, bench = BENCHES[name]
        print(f"== {title} ==", flush=True)
        bench()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Start to the first window with live values: a fresh process each run, the demo on its
simulator (the devices' ports moved to free ones), offscreen Qt."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.commands import _demo_copy


def startup(runs: int = 5) -> None:
    """Median seconds from launch to imports done, station started, window shown, live values."""
    results = []
    for _ in range(runs):
        project = _demo_copy()
        settings = Path(tempfile.mkdtemp(prefix="conduit-bench-ui-")) / "ui.ini"
        env = dict(os.environ, CONDUIT_T0=repr(time.time()), QT_QPA_PLATFORM="offscreen")
        done = subprocess.run(
            [sys.executable, "-m", "bench.startup_child", str(project), str(settings)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    for key, label in (
        ("imports", "Python and Qt imported (the core loads in launch)"),
        ("station", "station started (storage opened after the first values)"),
        ("window", "first window shown"),
        ("live", "first live values in the window"),
    ):
        values = [r[key] for r in results if key in r]
        if values:
            median, worst = statistics.median(values), max(values)
            print(f"  {label:<56} {median:6.2f} s (median of {len(values)}, worst {worst:.2f} s)")
    live = [r["live"] for r in results if "live" in r]
    if live:
        print(f"  goal < 2 s: {'met' if statistics.median(live) < 2 else 'NOT met'}")

"""Child of `bench startup`: a fresh process opens the demo window and reports, as JSON, the
seconds from its launch (CONDUIT_T0, set by the parent just before it started this process) to
the window shown and to the first live good value of the overview delivered to it."""

from __future__ import annotations

import json
import os
import sys
import time


def main() -> int:
    """Open the demo, time the first window and the first live values, quit."""
    t0 = float(os.environ["CONDUIT_T0"])
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QTimer

    from screens import app as application

    figures: dict[str, float] = {"imports": time.time() - t0}
    args = application._parser().parse_args(
        [sys.argv[1], "--simulate", "--refresh-hz", "10", "--settings", sys.argv[2]]
    )
    launched = application.launch(args)
    assert not isinstance(launched, int), "the application did not start"
    app, window = launched
    figures["window"] = time.time() - t0
    client = window.client
    client.started.add_done_callback(lambda _: figures.setdefault("station", time.time() - t0))
    shown = next(iter(client.screens().values())).tags

    def poll() -> None:
        live = [v for t, v in window.latest.items() if t in shown and v.good]
        if live and "live" not in figures:
            figures["live"] = time.time() - t0
            figures["live_tags"] = len(live)
            app.quit()

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(poll)
    timer.start()
    QTimer.singleShot(30_000, app.quit)
    app.exec()
    window.close()
    client.close()
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())

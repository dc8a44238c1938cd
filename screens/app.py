"""`conduit-hmi`: the operator application: QApplication, theme, station, main window."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QMessageBox, QWidget

from hmi.client import RuntimeClient, connect
from hmi.project import ProjectError
from hmi.resources import demo_project
from screens.refresh import Refresher
from screens.tag_browser import TagBrowser
from screens.theme import apply_theme

log = logging.getLogger("screens.app")


class MainWindow(QMainWindow):
    """The main window; for now its home screen is the live tag browser."""

    def __init__(self, client: RuntimeClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.setWindowTitle(f"Conduit HMI — {client.project_name}")
        self.resize(1200, 720)
        self.browser = TagBrowser(client.tag_defs(), self)
        self.setCentralWidget(self.browser)
        self.links = QLabel(self)
        self.statusBar().addPermanentWidget(self.links)
        self.refresher = Refresher(client, interval_ms=250, parent=self)
        self.refresher.subscribe(self.browser.apply)
        self._links_timer = QTimer(self)
        self._links_timer.setInterval(1000)
        self._links_timer.timeout.connect(self._show_links)

    def start(self) -> None:
        """Begin pulling live values."""
        self.refresher.start()
        self._links_timer.start()
        self._show_links()

    def _show_links(self) -> None:
        stats = self.client.link_stats()
        online = [name for name, s in stats.items() if s.online]
        offline = sorted(set(stats) - set(online))
        text = f"devices online {len(online)}/{len(stats)}"
        if offline:
            text += " · offline: " + ", ".join(offline)
        self.links.setText(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="conduit-hmi", description="Conduit HMI operator application"
    )
    parser.add_argument("project", type=Path, nargs="?", help="project folder (default: the demo)")
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="serve the devices marked `simulate` with the built-in plant simulator",
    )
    parser.add_argument(
        "--exit-after", type=float, metavar="SECONDS", help="quit after this long (smoke tests)"
    )
    return parser


def _no_display() -> bool:
    """True on Linux without a display server and without an explicit Qt platform."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `conduit-hmi`."""
    args = _parser().parse_args(argv)
    if _no_display():
        print(
            "conduit-hmi: no display found (DISPLAY and WAYLAND_DISPLAY are unset). Run it in a "
            "desktop session, or headless with QT_QPA_PLATFORM=offscreen.",
            file=sys.stderr,
        )
        return 1
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s"
    )
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("Conduit HMI")
    app.setOrganizationName("Conduit")
    apply_theme(app)
    project = args.project or demo_project()
    try:
        client = connect(project, simulate=args.simulate)
    except ProjectError as exc:
        QMessageBox.critical(None, "Conduit HMI — project error", str(exc))
        print(str(exc), file=sys.stderr)
        return 2
    window = MainWindow(client)
    app.aboutToQuit.connect(client.close)
    window.show()
    window.start()
    if args.exit_after is not None:
        QTimer.singleShot(int(args.exit_after * 1000), app.quit)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())

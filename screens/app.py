"""`conduit-hmi`: the operator application: QApplication, theme, station, main window."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QApplication, QMessageBox

from hmi.resources import demo_project
from hmi.simulation_process import SimulatorProcess
from screens.bridge import when_done
from screens.theme import VARIANTS, apply_theme

if TYPE_CHECKING:
    from screens.shell import MainWindow

log = logging.getLogger("screens.app")


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
        "--refresh-hz",
        type=float,
        default=5.0,
        metavar="HZ",
        help="screen refresh rate, 2 to 10 per second (default 5)",
    )
    parser.add_argument("--language", choices=("en", "zh_CN"), help="start in this language")
    parser.add_argument("--theme", choices=VARIANTS, help="start with the day or night colours")
    parser.add_argument(
        "--settings", type=Path, metavar="FILE", help="keep the window layout in this INI file"
    )
    parser.add_argument(
        "--exit-after", type=float, metavar="SECONDS", help="quit after this long (smoke tests)"
    )
    return parser


CJK_FAMILIES = ("Noto Sans CJK SC", "WenQuanYi Micro Hei", "Source Han Sans SC", "Microsoft YaHei")


def cjk_font() -> str | None:
    """The first installed font family that has Chinese glyphs, or None."""
    families = set(QFontDatabase.families())
    for family in CJK_FAMILIES:
        if family in families:
            return family
    for family in sorted(families):
        if QFontDatabase.WritingSystem.SimplifiedChinese in QFontDatabase.writingSystems(family):
            return family
    return None


def check_cjk_font() -> bool:
    """Warn (once, in the log) when no installed font has Chinese glyphs; Qt's own font
    fallback finds one when there is."""
    if cjk_font() is None:
        log.warning("no font with Chinese glyphs is installed: zh_CN text will not render")
        return False
    return True


def _no_display() -> bool:
    """True on Linux without a display server and without an explicit Qt platform."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def launch(args: argparse.Namespace) -> tuple[QApplication, MainWindow] | int:
    """Start the station in the background and show the main window (an exit code on error).

    The simulators (with `--simulate`) start first, in a child process on another core, before
    this process imports the core; the station starts in the background, its first values
    before its storage: while it connects its devices, this thread draws the window.
    """
    project = args.project or demo_project()
    simulator = SimulatorProcess(project).spawn() if args.simulate else None
    from hmi.client import connect
    from hmi.project import ProjectError

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("Conduit HMI")
    app.setOrganizationName("Conduit")
    try:
        client = connect(project, simulator=simulator, values_first=True, background=True)
    except ProjectError as exc:
        if simulator is not None:
            simulator.stop()
        QMessageBox.critical(None, "Conduit HMI — project error", str(exc))
        print(str(exc), file=sys.stderr)
        return 2
    from screens.shell import MainWindow

    check_cjk_font()
    apply_theme(app)
    settings = (
        QSettings(str(args.settings), QSettings.Format.IniFormat) if args.settings else QSettings()
    )
    if args.language:
        settings.setValue("language", args.language)
    if args.theme:
        settings.setValue("theme", args.theme)
    hz = min(10.0, max(2.0, args.refresh_hz))
    window = MainWindow(client, settings=settings, refresh_ms=round(1000 / hz))
    app.aboutToQuit.connect(client.close)
    window.start()
    window.show()  # before the devices are connected: values arrive as the station starts

    def failed(error: BaseException) -> None:
        QMessageBox.critical(window, "Conduit HMI — the station did not start", str(error))
        print(f"conduit-hmi: the station did not start: {error}", file=sys.stderr)
        app.exit(2)

    when_done(client.started, lambda _: window.station_started(), failed)
    return app, window


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
    launched = launch(args)
    if isinstance(launched, int):
        return launched
    app, _window = launched
    if args.exit_after is not None:
        QTimer.singleShot(int(args.exit_after * 1000), app.quit)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())

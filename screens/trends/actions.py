"""What the trend's buttons ask the person before saving or opening a group or exporting."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from screens.i18n import tr
from screens.trends import dialogs
from screens.trends.groups import GroupError, validate_name

if TYPE_CHECKING:
    from screens.trends.chart import TrendView

__all__ = ["export", "open_group", "save_group"]


def save_group(view: TrendView) -> None:
    """Ask for a name and save the view's pens under it (asking before replacing one)."""
    name = dialogs.ask_text(view, tr("Save trend group"), tr("Group name:"))
    if name is None:
        return
    try:
        name = validate_name(name)
        overwrite = view.groups.exists(name)
        if overwrite and not dialogs.ask_yes_no(
            view,
            tr("Save trend group"),
            tr("A trend group named {name} exists. Replace it?").format(name=name),
        ):
            return
        view.save_group(name, overwrite=overwrite)
    except (GroupError, OSError) as exc:
        dialogs.tell(view, tr("Save trend group"), str(exc))
        return
    view.set_status("Trend group {name} saved.", name=name)


def open_group(view: TrendView) -> None:
    """Ask which saved group to open and open it."""
    names = view.groups.names()
    if not names:
        dialogs.tell(view, tr("Open trend group"), tr("No trend group is saved yet."))
        return
    name = dialogs.ask_item(view, tr("Open trend group"), tr("Group:"), names)
    if name is None:
        return
    try:
        view.open_group(name)
    except GroupError as exc:
        dialogs.tell(view, tr("Open trend group"), str(exc))


def export(view: TrendView, kind: str) -> None:
    """Ask where to write the visible data (kind "xlsx" or "csv") and write it."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M")
    xlsx = kind == "xlsx"
    file_filter = tr("Excel workbook (*.xlsx)") if xlsx else tr("CSV file (*.csv)")
    chosen = dialogs.ask_save_path(view, tr("Export trend"), f"trend-{stamp}.{kind}", file_filter)
    if chosen is None:
        return
    path = Path(chosen)
    if path.suffix.lower() != f".{kind}":
        path = path.with_suffix(f".{kind}")
    try:
        rows = view.export(path)
    except OSError as exc:
        dialogs.tell(view, tr("Export trend"), str(exc))
        return
    view.set_status("Exported {n} rows to {path}.", n=rows, path=str(path))

"""The devices table of the diagnostics screen: one row per device link, from `link_stats()`.

The protocol and the number of tags of each device come from the tag definitions (the address
names the device); the link state, response time, loss, reconnects and last error from the
client's link statistics. An offline device is drawn in the alarm colour.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt

from hmi.client import LinkStats
from hmi.tags import TagDef
from screens import theme
from screens.diagnostics.texts import clock_text, number_text, protocol_text
from screens.i18n import tr
from screens.widgets.table import ColumnsTableModel

__all__ = ["DEVICE_COLUMNS", "DeviceInfo", "DeviceTableModel", "device_infos"]

ModelIndex = QModelIndex | QPersistentModelIndex

# English headers (translated when shown); the units stay as they are
DEVICE_COLUMNS = (
    "Device",
    "Protocol",
    "Tag count",
    "State",
    "Response (ms)",
    "Packet loss (%)",
    "Reconnects",
    "Last error",
    "Since",
)
(
    COL_DEVICE,
    COL_PROTOCOL,
    COL_TAGS,
    COL_STATE,
    COL_RESPONSE,
    COL_LOSS,
    COL_RECONNECTS,
    COL_ERROR,
    COL_SINCE,
) = range(len(DEVICE_COLUMNS))


class DeviceInfo:
    """What the tag definitions tell about one device: its protocols and how many tags it serves."""

    __slots__ = ("schemes", "tags")

    def __init__(self) -> None:
        self.schemes: list[str] = []
        self.tags = 0


def device_infos(tags: Mapping[str, TagDef]) -> dict[str, DeviceInfo]:
    """Per device named in a tag address: its address schemes and tag count."""
    out: dict[str, DeviceInfo] = {}
    for tag in tags.values():
        address = tag.address
        if address is None:
            continue
        info = out.setdefault(address.authority, DeviceInfo())
        info.tags += 1
        if address.scheme not in info.schemes:
            info.schemes.append(address.scheme)
    return out


class DeviceTableModel(ColumnsTableModel):
    """One row per device link; updated in place from each `link_stats()` answer."""

    COLUMNS = DEVICE_COLUMNS

    def __init__(self, infos: Mapping[str, DeviceInfo], parent: Any = None) -> None:
        super().__init__(parent)
        self._infos = dict(infos)
        self._rows: list[LinkStats] = []

    def row_count(self) -> int:
        """Number of rows shown."""
        return len(self._rows)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Cell text, alignment, tooltips and the alarm colour of an offline device."""
        if not index.isValid():
            return None
        stats, col = self._rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(stats, col)
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (
            COL_TAGS,
            COL_RESPONSE,
            COL_LOSS,
            COL_RECONNECTS,
        ):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if stats.online and col == COL_ERROR and role == Qt.ItemDataRole.ForegroundRole:
            return theme.TEXT_DIM  # an error from before the link came (back) online
        if not stats.online and col in (COL_DEVICE, COL_STATE):
            if role == Qt.ItemDataRole.BackgroundRole:
                return theme.FAULT
            if role == Qt.ItemDataRole.ForegroundRole:
                return theme.QUALITY_BAD_TEXT
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == COL_RESPONSE and stats.rtt_p99_ms is not None:
                return tr("99% of answers within {ms} ms").format(ms=number_text(stats.rtt_p99_ms))
            if col == COL_ERROR and stats.last_error:
                return stats.last_error
            if col == COL_DEVICE:
                return tr(
                    "{requests} requests, {errors} error answers, {timeouts} timeouts"
                ).format(requests=stats.requests, errors=stats.errors, timeouts=stats.timeouts)
        return None

    def _display(self, stats: LinkStats, col: int) -> str:
        info = self._infos.get(stats.device)
        if col == COL_DEVICE:
            return stats.device
        if col == COL_PROTOCOL:
            return ", ".join(protocol_text(s) for s in info.schemes) if info else ""
        if col == COL_TAGS:
            return str(info.tags) if info else ""
        if col == COL_STATE:
            return tr("online") if stats.online else tr("OFFLINE")
        if col == COL_RESPONSE:
            return number_text(stats.rtt_p50_ms) if stats.online else ""
        if col == COL_LOSS:
            return number_text(float(stats.loss_pct))
        if col == COL_RECONNECTS:
            return str(stats.reconnects)
        if col == COL_ERROR:
            return stats.last_error
        return clock_text(stats.since)

    def update(self, stats: Mapping[str, LinkStats]) -> None:
        """Show these statistics: the rows in place when the devices are the same ones."""
        rows = [stats[name] for name in sorted(stats)]
        if [s.device for s in rows] != [s.device for s in self._rows]:
            self.beginResetModel()
            self._rows = rows
            self.endResetModel()
            return
        changed = [
            i for i, (old, new) in enumerate(zip(self._rows, rows, strict=True)) if old != new
        ]
        self._rows = rows
        if changed:
            self.dataChanged.emit(
                self.index(changed[0], 0), self.index(changed[-1], len(DEVICE_COLUMNS) - 1)
            )

    def stats(self, device: str) -> LinkStats | None:
        """The statistics shown for a device."""
        return next((s for s in self._rows if s.device == device), None)

    def offline(self) -> list[str]:
        """The devices shown offline."""
        return [s.device for s in self._rows if not s.online]

    def retranslate(self) -> None:
        """Redraw the headers and texts in the current language."""
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(DEVICE_COLUMNS) - 1)
        if self._rows:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._rows) - 1, len(DEVICE_COLUMNS) - 1)
            )

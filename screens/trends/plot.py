"""The chart area of a trend: a pyqtgraph plot with a local-time X axis that takes tag names
dropped from the tag browser (`application/x-conduit-tags`, or plain text, one name a line)."""

from __future__ import annotations

from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtCore import QMimeData
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QWidget

from screens import theme

__all__ = ["TAG_MIME", "TrendPlot", "tag_names"]

# TODO: share with screens/tag_browser.py from screens/widgets/ (features may not import each other)
TAG_MIME = "application/x-conduit-tags"


def tag_names(mime: QMimeData) -> list[str]:
    """The tag names a drag carries (our own type first, else plain text), one per line."""
    if mime.hasFormat(TAG_MIME):
        text = bytes(mime.data(TAG_MIME).data()).decode("utf-8", errors="replace")
    elif mime.hasText():
        text = mime.text()
    else:
        return []
    return [line.strip() for line in text.splitlines() if line.strip()]


class TrendPlot(pg.PlotWidget):  # type: ignore[misc]  # pyqtgraph is untyped
    """A plot with a date axis in local time; dropping known tags on it calls `on_drop`."""

    def __init__(
        self,
        accepts: Callable[[list[str]], list[str]],
        on_drop: Callable[[list[str]], object],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(
            parent,
            background=theme.BACKGROUND,
            axisItems={"bottom": pg.DateAxisItem(orientation="bottom")},
        )
        self.setObjectName("trendPlot")
        self.setAcceptDrops(True)
        self._accepts = accepts
        self._on_drop = on_drop
        for side in ("left", "bottom", "right"):
            axis = self.getPlotItem().getAxis(side)
            axis.setPen(pg.mkPen(theme.TEXT))
            axis.setTextPen(pg.mkPen(theme.TEXT))

    def _wanted(self, mime: QMimeData) -> list[str]:
        return self._accepts(tag_names(mime))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        """Accept drags that carry at least one tag the trend can draw."""
        if self._wanted(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        """Keep accepting a drag of tags while it moves over the chart."""
        if self._wanted(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        """Add the dropped tags as pens."""
        names = self._wanted(event.mimeData())
        if not names:
            event.ignore()
            return
        event.acceptProposedAction()
        self._on_drop(names)

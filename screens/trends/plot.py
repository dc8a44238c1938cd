"""The chart area of a trend: a pyqtgraph plot with a local-time X axis that takes tag names
dropped from the tag browser (`application/x-conduit-tags`, or plain text, one name a line)."""

from __future__ import annotations

from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtCore import QMimeData
from PySide6.QtGui import QColor, QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QWidget

from screens import theme
from screens.widgets.dnd import tag_names

__all__ = ["TrendPlot"]


# TODO: share with screens/tag_browser.py from screens/widgets/ (features may not import each other)
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
            background=theme.CANVAS,
            axisItems={"bottom": pg.DateAxisItem(orientation="bottom")},
        )
        self.setObjectName("trendPlot")
        self.setAcceptDrops(True)
        self._accepts = accepts
        self._on_drop = on_drop
        self.retheme()
        theme.on_change(self.retheme)

    def retheme(self, _variant: str = "") -> None:
        """Take the current theme's background and text colours (day or night)."""
        self.setBackground(QColor(theme.CANVAS))
        for side in ("left", "bottom", "right"):
            axis = self.getPlotItem().getAxis(side)
            axis.setPen(pg.mkPen(QColor(theme.TEXT)))
            axis.setTextPen(pg.mkPen(QColor(theme.TEXT)))

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

"""One Y axis per unit: the first unit uses the plot's own view and left axis, the others get a
ViewBox each, linked on X, with an axis on the right (pyqtgraph's MultiplePlotAxes pattern)."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor

from screens import theme

__all__ = ["UnitAxes"]

AXIS_ROW = 2  # PlotItem's layout: row 2 holds the left axis, the view and the right axis
FIRST_EXTRA_COLUMN = 3


class UnitAxes:
    """The views and Y axes of a plot, one per unit, rebuilt when the set of units changes."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        self.main: pg.ViewBox = plot.getViewBox()
        self.units: list[str] = []
        self._views: dict[str, pg.ViewBox] = {}
        self._extra: list[tuple[pg.ViewBox, pg.AxisItem]] = []
        self._prepare(self.main)
        self.main.sigResized.connect(self._sync_geometry)

    @staticmethod
    def _prepare(view: pg.ViewBox) -> None:
        view.enableAutoRange(axis=pg.ViewBox.YAxis, enable=True)
        view.setAutoVisible(y=True)

    def view_for(self, unit: str) -> pg.ViewBox:
        """The view whose Y axis shows `unit` (call `set_units` first)."""
        return self._views[unit]

    def views(self) -> list[pg.ViewBox]:
        """Every view, the main one first."""
        return [self.main, *(view for view, _ in self._extra)]

    def set_units(self, units: list[str]) -> bool:
        """Give each unit its view and axis; True when the layout changed (items must move)."""
        if units == self.units:
            return False
        for view, axis in self._extra:
            for item in list(view.addedItems):
                view.removeItem(item)
            self.plot.layout.removeItem(axis)
            axis.setParentItem(None)
            scene = view.scene()
            if scene is not None:
                scene.removeItem(view)
        self._extra.clear()
        self.units = list(units)
        self._views = {}
        left = self.plot.getAxis("left")
        left.setLabel(units[0] if units else "")
        self.plot.hideAxis("right")
        if units:
            self._views[units[0]] = self.main
        for i, unit in enumerate(units[1:]):
            view = pg.ViewBox(enableMenu=False)
            view.setMouseEnabled(x=False, y=False)
            view.setZValue(-10)  # below the plot: the person's mouse reaches the main view
            self._prepare(view)
            self.plot.scene().addItem(view)
            view.setXLink(self.main)
            axis = pg.AxisItem("right")
            axis.setZValue(-10000)
            self.plot.layout.addItem(axis, AXIS_ROW, FIRST_EXTRA_COLUMN + i)
            axis.linkToView(view)
            axis.setLabel(unit)
            self._extra.append((view, axis))
            self._views[unit] = view
        self._sync_geometry()
        return True

    def colour_axis(self, unit: str, colour: QColor | None) -> None:
        """Colour a unit's axis like its only pen (None: the plain text colour)."""
        axis = self._axis(unit)
        if axis is None:
            return
        use = theme.TEXT if colour is None else colour
        axis.setPen(pg.mkPen(use))
        axis.setTextPen(pg.mkPen(use))
        axis.setLabel(unit, color=use.name())

    def _axis(self, unit: str) -> pg.AxisItem | None:
        if unit not in self._views:
            return None
        if self._views[unit] is self.main:
            return self.plot.getAxis("left")
        for view, axis in self._extra:
            if view is self._views[unit]:
                return axis
        return None

    def _sync_geometry(self) -> None:
        rect = self.main.sceneBoundingRect()
        for view, _ in self._extra:
            view.setGeometry(rect)
            view.linkedViewChanged(self.main, view.XAxis)

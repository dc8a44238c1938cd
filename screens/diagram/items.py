"""The graphics items of a plant diagram: symbols, read-outs, pipes, captions and link buttons.

Each item redraws only when what it shows changes (a new text, state or direction), keeps its
geometry stable while values tick (a read-out only grows), and caches its drawing in device
coordinates, so a refresh of a few hundred values repaints a few hundred small rectangles.
Colours come from `screens.theme` only. Clicks are handed to a callback given by the view.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QGuiApplication,
    QPainter,
    QPainterPath,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsPixmapItem,
    QGraphicsSceneMouseEvent,
    QGraphicsSimpleTextItem,
    QStyleOptionGraphicsItem,
    QWidget,
)

from hmi.screen_config import Pipe
from hmi.tags import Value
from screens import theme
from screens.diagram.reading import Kind, Reading
from screens.widgets.symbols import SymbolState, render

__all__ = [
    "CaptionItem",
    "LabelItem",
    "LinkItem",
    "MarkerItem",
    "PipeItem",
    "ReadoutItem",
    "SymbolItem",
    "pipe_pen",
]

CACHE = QGraphicsItem.CacheMode.DeviceCoordinateCache
PAD = 3.0  # inner margin of a read-out box
ARROW_EVERY = 160.0  # scene units between flow arrows on a long segment
ARROW_MIN_SEGMENT = 24.0  # segments shorter than this carry no arrow
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_fonts: dict[tuple[bool, float | None], QFont] = {}  # made on first use: Qt must be running


def _font(bold: bool = False, size: float | None = None) -> QFont:
    """A shared font of the diagram (the application's, bold or sized)."""
    font = _fonts.get((bold, size))
    if font is None:
        font = QFont(QGuiApplication.font())
        # every attribute set explicitly: a painter resolves unset ones against the view's own
        # font (the stylesheet's), and the read-outs' widths are measured with this font
        font.setPointSizeF(size if size is not None else font.pointSizeF())
        font.setBold(bold)
        _fonts[(bold, size)] = font
    return font


class LabelItem(QGraphicsSimpleTextItem):
    """A static, dim text (a symbol's label): drawn once into its cache."""

    def __init__(self, text: str = "", parent: QGraphicsItem | None = None) -> None:
        super().__init__(text, parent)
        self.setBrush(QBrush(theme.TEXT))
        self.setCacheMode(CACHE)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def set_text(self, text: str) -> None:
        """Show `text` (nothing happens when it is already shown)."""
        if text != self.text():
            self.setText(text)

    def recolour(self, dim: bool = False) -> None:
        """Take the current theme's text colour."""
        self.setBrush(QBrush(theme.TEXT_DIM if dim else theme.TEXT))


class CaptionItem(LabelItem):
    """A static caption of the screen, in bold."""

    def __init__(self, text: str = "", parent: QGraphicsItem | None = None) -> None:
        super().__init__(text, parent)
        self.setFont(_font(bold=True, size=11))


class ReadoutItem(QGraphicsItem):
    """A live value: a dim label (a cached child), then "value unit" in a box; bad quality on its
    own colour, never a number. Only the box redraws when the value changes."""

    def __init__(self, tag: str, label: str = "") -> None:
        super().__init__()
        self.tag = tag
        self._reading = Reading("", Kind.BAD)
        self._alarm: int | None = None
        self._font = _font()
        self._metrics = QFontMetricsF(self._font)
        self._label = LabelItem("", self)
        self._label.setBrush(QBrush(theme.TEXT_DIM))
        self._box = QRectF()
        self._value_width = self._metrics.horizontalAdvance("0000.0") + 2 * PAD
        self.set_label(label)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def recolour(self) -> None:
        """Take the current theme's colours."""
        self._label.recolour(dim=True)
        self.update()

    @property
    def reading(self) -> Reading:
        """What is shown now."""
        return self._reading

    @property
    def shown(self) -> str:
        """The value text shown ("72.4 °C", "BAD")."""
        return self._reading.text

    @property
    def label(self) -> str:
        """The label shown before the value."""
        return str(self._label.text())

    @property
    def alarm(self) -> int | None:
        """The theme level of the alarm framing the value, None without."""
        return self._alarm

    def set_reading(self, reading: Reading) -> bool:
        """Show `reading`; False when it was already shown (nothing redrawn)."""
        if reading == self._reading:
            return False
        self._reading = reading
        width = self._metrics.horizontalAdvance(reading.text) + 2 * PAD
        if width > self._value_width:  # grow only: the geometry stays put while values tick
            self._value_width = width
            self._layout()
        self.update()
        return True

    def set_label(self, label: str) -> None:
        """Show `label` before the value."""
        self._label.set_text(label)
        self._layout()

    def set_alarm(self, level: int | None) -> None:
        """Frame the value in the colour of alarm `level` (None: no frame)."""
        if level != self._alarm:
            self._alarm = level
            self.update()

    def _layout(self) -> None:
        text = self._label.text()
        left = self._label.boundingRect().width() + 6 if text else 0.0
        height = self._metrics.height() + 2 * PAD
        self._label.setPos(0, (height - self._label.boundingRect().height()) / 2)
        self.prepareGeometryChange()
        self._box = QRectF(left, 0, self._value_width, height)

    def boundingRect(self) -> QRectF:
        """The value box, with room for the alarm frame (the label is a child of its own)."""
        return self._box.adjusted(-1.5, -1.5, 1.5, 1.5)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        """Draw the value in its quality's colours."""
        box = self._box
        kind = self._reading.kind
        colour = theme.TEXT
        if kind is Kind.BAD:
            painter.fillRect(box, theme.QUALITY_BAD_BG)
            colour = theme.QUALITY_BAD_TEXT
        elif kind is Kind.UNCERTAIN:
            painter.fillRect(box, theme.QUALITY_UNCERTAIN_BG)
        painter.setFont(self._font)
        painter.setPen(colour)
        painter.drawText(box.adjusted(PAD, 0, -PAD, 0), _RIGHT, self._reading.text)
        if self._alarm is not None:
            painter.setPen(QPen(theme.PRIORITY[self._alarm], 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(box)


class SymbolItem(QGraphicsPixmapItem):
    """A plant symbol drawn in its state, with an alarm border; a click calls `on_click`."""

    def __init__(
        self, name: str, size: int, rotate: int, on_click: Callable[[], None] | None = None
    ) -> None:
        super().__init__()
        self.name = name
        self.size = size
        self._state = SymbolState.NORMAL
        self._alarm: int | None = None
        self._on_click = on_click
        self._pressed = False
        self.setPixmap(render(name, self._state, size))
        self.setShapeMode(QGraphicsPixmapItem.ShapeMode.BoundingRectShape)
        self.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.setCacheMode(CACHE)  # the zoomed, smoothed pixmap: scaled once, not every frame
        rect = self.boundingRect()
        self.setTransformOriginPoint(rect.center())
        self.setRotation(rotate)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setAcceptedMouseButtons(Qt.MouseButton.LeftButton)

    @property
    def state(self) -> SymbolState:
        """The state drawn."""
        return self._state

    @property
    def alarm(self) -> int | None:
        """The theme level of the alarm border, None without."""
        return self._alarm

    def set_look(self, state: SymbolState, alarm: int | None) -> None:
        """Draw the symbol in `state` with the border of alarm level `alarm` (None: none)."""
        if state is self._state and alarm == self._alarm:
            return
        self._state, self._alarm = state, alarm
        self.setPixmap(render(self.name, state, self.size, alarm))

    def redraw(self) -> None:
        """Render again in the current theme's colours."""
        self.setPixmap(render(self.name, self._state, self.size, self._alarm))

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        """Take the press so the view does not start panning."""
        self._pressed = event.button() == Qt.MouseButton.LeftButton
        event.accept()

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        """A press and release on the symbol activates it."""
        pressed, self._pressed = self._pressed, False
        if pressed and self.boundingRect().contains(event.pos()) and self._on_click is not None:
            self._on_click()
        event.accept()


class MarkerItem(QGraphicsItem):
    """A small priority marker beside an alarmed symbol: filled while unacknowledged."""

    SIZE = 14.0

    def __init__(self) -> None:
        super().__init__()
        self._level: int | None = None
        self._unacked = False
        self._font = _font(bold=True, size=7)
        self.setVisible(False)
        self.setCacheMode(CACHE)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setZValue(3)

    @property
    def level(self) -> int | None:
        """The theme level shown, None when hidden."""
        return self._level

    @property
    def unacked(self) -> bool:
        """True while the marker is filled (an alarm not yet acknowledged)."""
        return self._unacked

    def set_alarm(self, level: int | None, unacked: bool) -> None:
        """Show the marker of alarm `level` (None: hide it)."""
        if level == self._level and unacked == self._unacked:
            return
        self._level, self._unacked = level, unacked
        self.setVisible(level is not None)
        self.update()

    def boundingRect(self) -> QRectF:
        """A small square."""
        return QRectF(-1, -1, self.SIZE + 2, self.SIZE + 2)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        """A diamond in the priority colour with the priority number."""
        if self._level is None:
            return
        colour = theme.PRIORITY[self._level]
        s = self.SIZE
        diamond = QPolygonF(
            [QPointF(s / 2, 0), QPointF(s, s / 2), QPointF(s / 2, s), QPointF(0, s / 2)]
        )
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(colour if self._unacked else theme.SYMBOL_LINE, 1.5))
        painter.setBrush(QBrush(colour) if self._unacked else QBrush(theme.SYMBOL_OFF))
        painter.drawPolygon(diamond)
        painter.setFont(self._font)
        painter.setPen(theme.TEXT)
        painter.drawText(QRectF(0, 0, s, s), Qt.AlignmentFlag.AlignCenter, str(self._level))


def pipe_pen(line: str) -> QPen:
    """The pen of a pipe kind: supply darker and thicker than return; signal thin and dashed."""
    dark, dim = QColor(theme.SYMBOL_LINE), QColor(theme.TEXT_DIM)
    width, colour, style = {
        "supply": (4.0, dark, Qt.PenStyle.SolidLine),
        "return": (3.0, dim, Qt.PenStyle.SolidLine),
        "gas": (4.0, dark.lighter(130), Qt.PenStyle.SolidLine),
        "water": (2.5, dim, Qt.PenStyle.SolidLine),
        "signal": (1.5, dim, Qt.PenStyle.DashLine),
    }.get(line, (3.0, dark, Qt.PenStyle.SolidLine))
    pen = QPen(colour, width, style)
    pen.setCapStyle(Qt.PenCapStyle.FlatCap)
    pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
    return pen


def _arrows(points: tuple[tuple[float, float], ...], forward: bool, size: float) -> QPainterPath:
    """Arrowheads along the segments of a polyline, pointing with or against its order."""
    path = QPainterPath()
    pts = points if forward else tuple(reversed(points))
    for (x1, y1), (x2, y2) in itertools.pairwise(pts):
        dx, dy = x2 - x1, y2 - y1
        length = math.hypot(dx, dy)
        if length < ARROW_MIN_SEGMENT:
            continue
        ux, uy = dx / length, dy / length
        count = max(1, int(length // ARROW_EVERY))
        for i in range(count):
            t = (i + 0.5) / count * length
            tip = QPointF(x1 + ux * (t + size / 2), y1 + uy * (t + size / 2))
            base = QPointF(x1 + ux * (t - size / 2), y1 + uy * (t - size / 2))
            half = size * 0.55
            path.addPolygon(
                QPolygonF(
                    [
                        tip,
                        QPointF(base.x() - uy * half, base.y() + ux * half),
                        QPointF(base.x() + uy * half, base.y() - ux * half),
                        tip,
                    ]
                )
            )
    return path


class PipeItem(QGraphicsPathItem):
    """A pipe through its points; arrowheads show the flow direction while it flows."""

    def __init__(self, pipe: Pipe) -> None:
        super().__init__()
        self.pipe = pipe
        path = QPainterPath(QPointF(*pipe.points[0]))
        for x, y in pipe.points[1:]:
            path.lineTo(x, y)
        self.setPath(path)
        pen = pipe_pen(pipe.line)
        self.setPen(pen)
        self.setCacheMode(CACHE)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setZValue(-1)
        size = max(9.0, pen.widthF() * 3)
        self._paths = {1: _arrows(pipe.points, True, size), -1: _arrows(pipe.points, False, size)}
        self.arrows = QGraphicsPathItem(self)
        self.arrows.setPen(Qt.PenStyle.NoPen)
        self.arrows.setBrush(QBrush(pen.color().darker(140)))
        self.arrows.setVisible(False)
        self.arrows.setCacheMode(CACHE)
        self._direction = 0

    def recolour(self) -> None:
        """Take the current theme's line colours."""
        pen = pipe_pen(self.pipe.line)
        self.setPen(pen)
        self.arrows.setBrush(QBrush(pen.color().darker(140)))

    @property
    def direction(self) -> int:
        """1: flowing along the points, -1: against them, 0: no arrows."""
        return self._direction

    def set_flow(self, value: Value | None) -> None:
        """Show the direction of `value` when it is good and beyond min_flow; else no arrows."""
        direction = 0
        if value is not None and value.good and isinstance(value.value, int | float):
            flow = float(value.value)
            if abs(flow) > self.pipe.min_flow:
                direction = 1 if flow > 0 else -1
        if direction == self._direction:
            return
        self._direction = direction
        if direction:
            self.arrows.setPath(self._paths[direction])
        self.arrows.setVisible(bool(direction))


class LinkItem(QGraphicsItem):
    """A button that opens another screen; a click calls `on_click`."""

    def __init__(self, text: str, on_click: Callable[[], None]) -> None:
        super().__init__()
        self._font = _font(bold=True)
        self._metrics = QFontMetricsF(self._font)
        self._on_click = on_click
        self._pressed = False
        self._text = ""
        self._rect = QRectF()
        self.set_text(text)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setAcceptedMouseButtons(Qt.MouseButton.LeftButton)
        self.setCacheMode(CACHE)

    @property
    def text(self) -> str:
        """The button's text."""
        return self._text

    def set_text(self, text: str) -> None:
        """Show `text` on the button."""
        if text == self._text:
            return
        self._text = text
        self.prepareGeometryChange()
        width = self._metrics.horizontalAdvance(text + "  ›") + 20
        self._rect = QRectF(0, 0, width, self._metrics.height() + 12)
        self.update()

    def boundingRect(self) -> QRectF:
        """The button."""
        return self._rect.adjusted(-1, -1, 1, 1)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        """A flat, light button with a dark outline."""
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(theme.SYMBOL_LINE, 1.5))
        painter.setBrush(QBrush(theme.SYMBOL_OFF))
        painter.drawRoundedRect(self._rect, 4, 4)
        painter.setFont(self._font)
        painter.setPen(theme.TEXT)
        painter.drawText(self._rect, Qt.AlignmentFlag.AlignCenter, self._text + "  ›")

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        """Take the press so the view does not start panning."""
        self._pressed = event.button() == Qt.MouseButton.LeftButton
        event.accept()

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        """A press and release on the button opens its screen."""
        pressed, self._pressed = self._pressed, False
        if pressed and self._rect.contains(event.pos()):
            self._on_click()
        event.accept()

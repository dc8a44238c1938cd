"""Plant diagram symbols: ISA-101 grey line art from `resources/symbols/*.svg`, recoloured by state.

Each SVG marks the parts that show state. Top-level groups with class `state` (the `body`) are
filled by state; groups with class `detail` are drawn over the body and turn light when the body is
dark; groups with class `line` (pipes) change their stroke. Everything else is drawn as it is.

Colour only for what is abnormal: normal is the bare outline, running/open a dark fill,
stopped/closed a light fill, fault the theme's fault colour, bad quality a magenta-grey hatch
with a dashed outline. An alarm adds a border in its priority colour. `size` is the pixel size of
64 viewBox units, so line weights match across symbols (pipes keep their aspect ratio).
"""

from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET
from enum import StrEnum
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtSvg import QSvgRenderer

from hmi.resources import resource_path
from screens import theme

SVG_NS = "http://www.w3.org/2000/svg"
ET.register_namespace("", SVG_NS)
UNIT = 64.0  # viewBox units that `size` pixels stand for
_NAME = re.compile(r"^[a-z0-9_]+$")


class SymbolState(StrEnum):
    """What a symbol shows about its equipment."""

    NORMAL = "normal"
    RUNNING = "running"
    STOPPED = "stopped"
    OPEN = "open"
    CLOSED = "closed"
    FAULT = "fault"
    BAD_QUALITY = "bad_quality"


ACTIVE = frozenset({SymbolState.RUNNING, SymbolState.OPEN})
INACTIVE = frozenset({SymbolState.STOPPED, SymbolState.CLOSED})


class UnknownSymbolError(LookupError):
    """No SVG file of that name in the symbol folder."""


def _hex(color: QColor) -> str:
    return str(color.name(QColor.NameFormat.HexRgb))


def _classes(element: ET.Element) -> set[str]:
    return set(element.get("class", "").split())


def _restyle(group: ET.Element, **attributes: str) -> None:
    """Set presentation attributes on a group and every element in it."""
    for element in group.iter():
        for key, value in attributes.items():
            element.set(key.replace("_", "-"), value)


def _styled(tree: ET.Element, state: SymbolState) -> ET.Element:
    """A copy of the SVG tree with its state parts recoloured for `state`."""
    root = copy.deepcopy(tree)
    line, off, fault, bad = (
        _hex(theme.SYMBOL_LINE),
        _hex(theme.SYMBOL_OFF),
        _hex(theme.FAULT),
        _hex(theme.QUALITY_BAD_BG),
    )
    for group in list(root):
        classes = _classes(group)
        if "state" in classes:
            if state in ACTIVE:
                _restyle(group, fill=line, stroke=line)
            elif state in INACTIVE:
                _restyle(group, fill=off, stroke=line)
            elif state is SymbolState.FAULT:
                _restyle(group, fill=fault, stroke=line)
            elif state is SymbolState.BAD_QUALITY:
                _restyle(group, fill="none", stroke=bad, stroke_dasharray="4 3")
        elif "detail" in classes:
            if state in ACTIVE:
                _restyle(group, stroke=off)
            elif state is SymbolState.BAD_QUALITY:
                _restyle(group, stroke=bad)
        elif "line" in classes:
            if state in ACTIVE:
                _restyle(group, stroke=line, stroke_width="5")
            elif state in INACTIVE:
                _restyle(group, stroke=_hex(theme.TEXT_DIM))
            elif state is SymbolState.FAULT:
                _restyle(group, stroke=fault)
            elif state is SymbolState.BAD_QUALITY:
                _restyle(group, stroke=bad, stroke_dasharray="6 4")
    return root


def _body_mask(tree: ET.Element) -> ET.Element:
    """A copy of the SVG tree with only its state parts, solid filled: where to hatch."""
    root = copy.deepcopy(tree)
    for group in list(root):
        if "state" in _classes(group):
            _restyle(group, fill="#000000", stroke="#000000")
        elif group.tag != f"{{{SVG_NS}}}defs":
            root.remove(group)
    return root


class Symbols:
    """Loads symbol SVGs by name and renders them per state, caching the pixmaps."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder if folder is not None else resource_path("symbols")
        self._trees: dict[str, ET.Element] = {}
        self._pixmaps: dict[tuple[str, SymbolState, int, int | None, str], QPixmap] = {}

    def names(self) -> list[str]:
        """The names of every symbol in the folder, sorted."""
        return sorted(p.stem for p in self.folder.glob("*.svg"))

    def path(self, name: str) -> Path:
        """The SVG file of a symbol (checked to exist)."""
        path = self.folder / f"{name}.svg"
        if not _NAME.match(name) or not path.is_file():
            raise UnknownSymbolError(f"no symbol {name!r}: {path} does not exist")
        return path

    def tree(self, name: str) -> ET.Element:
        """The parsed SVG of a symbol."""
        tree = self._trees.get(name)
        if tree is None:
            tree = ET.fromstring(self.path(name).read_bytes())
            self._trees[name] = tree
        return tree

    def render(
        self,
        name: str,
        state: SymbolState | str = SymbolState.NORMAL,
        size: int = 64,
        alarm_priority: int | None = None,
    ) -> QPixmap:
        """A pixmap of the symbol in `state`, with an alarm border when `alarm_priority` is set."""
        state = SymbolState(state)
        if alarm_priority is not None and alarm_priority not in theme.PRIORITY:
            raise ValueError(
                f"alarm priority {alarm_priority} is not one of {sorted(theme.PRIORITY)}"
            )
        key = (name, state, size, alarm_priority, theme.current_variant())
        pixmap = self._pixmaps.get(key)
        if pixmap is None:
            pixmap = QPixmap.fromImage(self._image(name, state, size, alarm_priority))
            self._pixmaps[key] = pixmap
        return pixmap

    def _image(
        self, name: str, state: SymbolState, size: int, alarm_priority: int | None
    ) -> QImage:
        tree = self.tree(name)
        renderer = _renderer(name, _styled(tree, state))
        box = renderer.viewBoxF()
        scale = size / UNIT
        width, height = max(1, round(box.width() * scale)), max(1, round(box.height() * scale))
        image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        target = QRectF(0, 0, width, height)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if state is SymbolState.BAD_QUALITY:
            painter.drawImage(0, 0, _hatch(_renderer(name, _body_mask(tree)), width, height))
        renderer.render(painter, target)
        if alarm_priority is not None:
            pen_width = max(2, round(size / 32))
            pen = QPen(theme.PRIORITY[alarm_priority], pen_width)
            pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            half = pen_width / 2
            painter.drawRect(QRectF(half, half, width - pen_width, height - pen_width))
        painter.end()
        return image


def _renderer(name: str, root: ET.Element) -> QSvgRenderer:
    renderer = QSvgRenderer(QByteArray(ET.tostring(root)))
    if not renderer.isValid():
        raise ValueError(f"symbol {name!r} is not a valid SVG")
    return renderer


def _hatch(mask: QSvgRenderer, width: int, height: int) -> QImage:
    """The bad-quality hatch (a magenta-grey tint and diagonal lines) inside the body shape."""
    image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    mask.render(painter, QRectF(0, 0, width, height))
    painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceIn)
    tint = QColor(theme.QUALITY_BAD_BG)
    tint.setAlpha(90)
    painter.fillRect(image.rect(), tint)
    painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceAtop)
    painter.fillRect(image.rect(), QBrush(theme.QUALITY_BAD_BG, Qt.BrushStyle.BDiagPattern))
    painter.end()
    return image


_default: Symbols | None = None


def render(
    name: str,
    state: SymbolState | str = SymbolState.NORMAL,
    size: int = 64,
    alarm_priority: int | None = None,
) -> QPixmap:
    """Render a symbol from `resources/symbols` with the shared, caching loader."""
    global _default  # noqa: PLW0603
    if _default is None:
        _default = Symbols()
    return _default.render(name, state, size, alarm_priority)

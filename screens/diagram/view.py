"""The plant diagram: a zoomable view of one `ScreenDef` with live symbols, values and pipes.

`DiagramView` builds a scene from the screen definition once, keeps an index from each tag to
the items that show it, and on every refresh batch (`apply`) touches only those items; an item
redraws only when its text, state or direction really changed. Alarm batches (`apply_alarms`)
recolour the borders of the symbols and values whose tags they concern. While the view is
hidden it only remembers the latest values and draws them when shown. A click on a symbol
emits `symbol_activated(SymbolDef)` (the shell opens the faceplate); a link emits
`open_screen(name)`. The view talks to the core only through its `AppContext`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import partial

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QKeyEvent, QPainter, QResizeEvent, QShowEvent, QWheelEvent
from PySide6.QtWidgets import QGraphicsScene, QGraphicsView, QWidget

from hmi.client import AlarmView
from hmi.screen_config import Readout, ScreenDef, SymbolDef, Text
from hmi.tags import DataType, TagDef, Value
from screens import i18n, theme
from screens.context import AppContext
from screens.diagram.items import (
    CaptionItem,
    LabelItem,
    LinkItem,
    MarkerItem,
    PipeItem,
    ReadoutItem,
    SymbolItem,
)
from screens.diagram.reading import SHOWN_ALARMS, alarm_level, reading, symbol_state
from screens.i18n import tr

__all__ = ["DEFAULT_SYMBOL_SIZE", "MAX_ZOOM", "MIN_ZOOM", "DiagramView"]

DEFAULT_SYMBOL_SIZE = 48
MIN_ZOOM = 0.1
MAX_ZOOM = 10.0
ZOOM_STEP = 1.25
ROW = 20.0  # scene units between stacked read-outs of a symbol
GAP = 4.0


def _text(text: Text) -> str:
    return text.get(i18n.current())


class _ReadoutBinding:
    """A read-out and the tag it shows."""

    def __init__(self, item: ReadoutItem, tag: TagDef, label: Text | None) -> None:
        self.item = item
        self.tag = tag
        self.label = label  # None: the tag's own short name, not translated
        self.value = Value.initial()
        self._reason: str | None = None  # the quality reason in the tooltip

    def update(self, value: Value) -> None:
        """Show a new value."""
        self.value = value
        shown = reading(self.tag, value)
        if self.item.set_reading(shown) and shown.reason != self._reason:
            self._tooltip(shown.reason)

    def retranslate(self) -> None:
        """Re-set the label and the value text ("BAD", "On") in the current language."""
        if self.label is not None:
            self.item.set_label(_text(self.label))
        shown = reading(self.tag, self.value)
        self.item.set_reading(shown)
        self._tooltip(shown.reason)

    def _tooltip(self, reason: str) -> None:
        self._reason = reason
        tag = self.tag
        text = f"{tag.name}  {tag.description}".strip()
        if reason:
            text += "\n" + tr("Quality: {reason}").format(reason=reason)
        self.item.setToolTip(text)


class _SymbolBinding:
    """One symbol: its item, label, alarm marker and value read-outs, and its state tags."""

    def __init__(self, defn: SymbolDef, on_click: Callable[[], None]) -> None:
        self.defn = defn
        size = round(defn.size[0]) if defn.size else DEFAULT_SYMBOL_SIZE
        self.item = SymbolItem(defn.symbol, size, defn.rotate, on_click)
        self.item.setPos(*defn.at)
        self.label = LabelItem()
        self.marker = MarkerItem()
        self.readouts: list[_ReadoutBinding] = []
        self.state: Value | None = Value.initial() if defn.state else None
        self.fault: Value | None = Value.initial() if defn.fault else None
        self.alarm: int | None = None
        rect = self.item.sceneBoundingRect()
        self.marker.setPos(rect.right() - MarkerItem.SIZE / 2, rect.top() - MarkerItem.SIZE / 2)

    @property
    def beside(self) -> bool:
        """True when the label and values go right of the symbol (a turned symbol)."""
        return self.defn.rotate in (90, 270)

    def layout(self) -> None:
        """Place the label under (or beside) the symbol and the read-outs under the label."""
        rect = self.item.sceneBoundingRect()
        label = self.label.boundingRect()
        if self.beside:
            x, y = rect.right() + GAP, rect.top()
            self.label.setPos(x, y)
        else:
            x, y = rect.left(), rect.bottom() + 2
            self.label.setPos(rect.center().x() - label.width() / 2, y)
        y += label.height() + 2 if self.label.text() else 0
        for binding in self.readouts:
            binding.item.setPos(x, y)
            y += ROW

    def on_value(self, tag: str, value: Value) -> None:
        """A new value of the state or fault tag."""
        if tag == self.defn.state:
            self.state = value
        if tag == self.defn.fault:
            self.fault = value
        self.refresh()

    def set_alarm(self, level: int | None, unacked: bool, texts: list[str]) -> None:
        """Show the most urgent alarm of the symbol's tags (None: none)."""
        self.alarm = level
        self.marker.set_alarm(level, unacked)
        self.marker.setToolTip("\n".join(texts))
        self.refresh()

    def refresh(self) -> None:
        """Redraw the symbol if its state or alarm changed."""
        self.item.set_look(symbol_state(self.defn.symbol, self.state, self.fault), self.alarm)

    def retranslate(self) -> None:
        """Re-set the label and tooltip in the current language."""
        text = _text(self.defn.label)
        self.label.set_text(text)
        self.item.setToolTip(f"{text}\n{self.defn.id}" if text else self.defn.id)
        self.layout()


class DiagramView(QGraphicsView):
    """A live plant diagram of one screen definition."""

    symbol_activated = Signal(object)  # the SymbolDef clicked
    open_screen = Signal(str)  # the name of the screen a link opens

    def __init__(
        self, context: AppContext, screen: ScreenDef, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.context = context
        self.definition = screen  # (QWidget.screen() is the monitor)
        self.setObjectName("diagram")
        self._tags: Mapping[str, TagDef] = context.client.tag_defs()
        self._index: dict[str, list[Callable[[Value], None]]] = {}
        self._symbols: list[_SymbolBinding] = []
        self._symbols_by_tag: dict[str, list[_SymbolBinding]] = {}
        self._readouts: list[_ReadoutBinding] = []
        self._readouts_by_tag: dict[str, list[_ReadoutBinding]] = {}
        self._pipes: list[PipeItem] = []
        self._captions: list[tuple[CaptionItem, Text]] = []
        self._links: list[tuple[LinkItem, Text, str]] = []
        self._alarms: dict[str, AlarmView] = {}
        self._alarms_by_tag: dict[str, dict[str, AlarmView]] = {}
        self._pending: dict[str, Value] = {}
        self._fitted = True  # follow the window's size until the person zooms
        self._shown_once = False

        width, height = screen.size
        self._scene = QGraphicsScene(0, 0, width, height, self)
        self._scene.setBackgroundBrush(QBrush(theme.CANVAS))
        self.setScene(self._scene)
        self._configure()
        self._build()
        self.retranslate()
        _, values = context.client.snapshot()
        self._apply_now({t: v for t, v in values.items() if t in self._index})
        self.apply_alarms(context.client.active_alarms())
        i18n.on_change(self.retranslate)
        theme.on_change(self.retheme)

    def retheme(self, _variant: str = "") -> None:
        """Draw everything again in the current theme's colours (day or night)."""
        self._scene.setBackgroundBrush(QBrush(theme.CANVAS))
        for symbol in self._symbols:
            symbol.item.redraw()
            symbol.label.recolour()
        for binding in self._readouts:
            binding.item.recolour()
        for caption, _text in self._captions:
            caption.recolour()
        for pipe in self._pipes:
            pipe.recolour()
        self.resetCachedContent()
        self._scene.update()

    def _configure(self) -> None:
        self.setRenderHints(
            QPainter.RenderHint.Antialiasing
            | QPainter.RenderHint.TextAntialiasing
            | QPainter.RenderHint.SmoothPixmapTransform
        )
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheBackground)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontSavePainterState, True)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    # -- building the scene ------------------------------------------------------------------

    def _tag(self, name: str) -> TagDef:
        return self._tags.get(name) or TagDef(name)

    def _bind(self, tag: str, update: Callable[[Value], None]) -> None:
        self._index.setdefault(tag, []).append(update)

    def _readout(self, tag: str, label: Text | None) -> _ReadoutBinding:
        name = label.en if label is not None else tag.split(".", 1)[-1]
        binding = _ReadoutBinding(ReadoutItem(tag, name), self._tag(tag), label)
        self._scene.addItem(binding.item)
        self._readouts.append(binding)
        self._readouts_by_tag.setdefault(tag, []).append(binding)
        self._bind(tag, binding.update)
        return binding

    def _build(self) -> None:
        for pipe in self.definition.pipes:
            item = PipeItem(pipe)
            self._scene.addItem(item)
            self._pipes.append(item)
            if pipe.flow:
                self._bind(pipe.flow, item.set_flow)
        for symbol in self.definition.symbols:
            self._add_symbol(symbol)
        for value in self.definition.values:
            self._add_readout(value)
        for caption in self.definition.texts:
            text = CaptionItem()
            text.setPos(*caption.at)
            self._scene.addItem(text)
            self._captions.append((text, caption.text))
        for link in self.definition.links:
            button = LinkItem(link.label.en, partial(self._link_clicked, link.screen))
            button.setPos(*link.at)
            button.setZValue(2)
            self._scene.addItem(button)
            self._links.append((button, link.label, link.screen))

    def _add_symbol(self, defn: SymbolDef) -> None:
        binding = _SymbolBinding(defn, partial(self._symbol_clicked, defn))
        for item in (binding.item, binding.label, binding.marker):
            self._scene.addItem(item)
        binding.item.setZValue(1)
        shown = list(defn.values)
        state = self._tags.get(defn.state)
        numeric = state is not None and state.type is not DataType.BOOL
        if defn.state and numeric and defn.state not in shown:
            shown.insert(0, defn.state)  # a position is shown as a number beside it
        binding.readouts = [self._readout(tag, None) for tag in shown]
        for tag in (defn.state, defn.fault):
            if tag:
                self._bind(tag, partial(binding.on_value, tag))
        for tag in defn.tags:
            self._symbols_by_tag.setdefault(tag, []).append(binding)
        self._symbols.append(binding)

    def _add_readout(self, readout: Readout) -> None:
        binding = self._readout(readout.tag, readout.label)
        binding.item.setPos(*readout.at)

    def _symbol_clicked(self, defn: SymbolDef) -> None:
        self.context.touch()
        self.symbol_activated.emit(defn)

    def _link_clicked(self, screen: str) -> None:
        self.context.touch()
        self.open_screen.emit(screen)

    # -- live data -----------------------------------------------------------------------------

    @property
    def tags(self) -> frozenset[str]:
        """Every tag this view shows."""
        return frozenset(self._index)

    def apply(self, changes: Mapping[str, Value]) -> None:
        """Show a batch of changed values (only the items bound to them are touched)."""
        if not self.isVisible():
            index = self._index
            self._pending.update((t, v) for t, v in changes.items() if t in index)
            return
        self._apply_now(changes)

    def _apply_now(self, changes: Mapping[str, Value]) -> None:
        index = self._index
        if len(changes) > len(index):  # a busy plant: walk the few tags shown here
            pairs: Iterable[tuple[str, Value]] = (
                (t, changes[t]) for t in index.keys() & changes.keys()
            )
        else:
            pairs = changes.items()
        for tag, value in pairs:
            updates = index.get(tag)
            if updates is not None:
                for update in updates:
                    update(value)

    def apply_alarms(self, views: Iterable[AlarmView]) -> None:
        """Merge a batch of alarm changes; re-border only the symbols and values concerned."""
        affected: set[str] = set()
        for view in views:
            old = self._alarms.pop(view.id, None)
            if old is not None:
                self._alarms_by_tag.get(old.tag, {}).pop(view.id, None)
                affected.add(old.tag)
            if view.state in SHOWN_ALARMS:
                self._alarms[view.id] = view
                self._alarms_by_tag.setdefault(view.tag, {})[view.id] = view
                affected.add(view.tag)
        symbols: dict[int, _SymbolBinding] = {}
        for tag in affected:
            for readout in self._readouts_by_tag.get(tag, ()):
                readout.item.set_alarm(alarm_level(self._alarms_by_tag.get(tag, {}).values())[0])
            for binding in self._symbols_by_tag.get(tag, ()):
                symbols[id(binding)] = binding
        for binding in symbols.values():
            self._alarm_symbol(binding)

    def _alarm_symbol(self, binding: _SymbolBinding) -> None:
        alarms = [a for t in binding.defn.tags for a in self._alarms_by_tag.get(t, {}).values()]
        level, unacked = alarm_level(alarms)
        language = i18n.current()
        texts = [a.text(language) for a in sorted(alarms, key=lambda a: -int(a.priority))]
        binding.set_alarm(level, unacked, texts)

    # -- language ------------------------------------------------------------------------------

    def retranslate(self, _language: str = "") -> None:
        """Re-set every label, caption, link and value text in the current language."""
        for readout in self._readouts:
            readout.retranslate()
        for binding in self._symbols:
            binding.retranslate()
            if binding.alarm is not None:
                self._alarm_symbol(binding)
        for caption, text in self._captions:
            caption.set_text(_text(text))
        for link, text, _ in self._links:
            link.set_text(_text(text))

    # -- zoom and pan --------------------------------------------------------------------------

    @property
    def zoom(self) -> float:
        """The scale of the drawing (1.0: one scene unit per pixel)."""
        return float(self.transform().m11())

    def fit(self) -> None:
        """Show the whole drawing, as large as the view allows."""
        self.fitInView(self._scene.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)
        self._fitted = True

    def zoom_by(self, factor: float) -> None:
        """Zoom in (factor > 1) or out, within MIN_ZOOM..MAX_ZOOM."""
        target = min(MAX_ZOOM, max(MIN_ZOOM, self.zoom * factor))
        if target != self.zoom:
            self.scale(target / self.zoom, target / self.zoom)
        self._fitted = False

    def wheelEvent(self, event: QWheelEvent) -> None:
        """Zoom around the cursor."""
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(ZOOM_STEP**steps)
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Ctrl + and Ctrl - zoom, Ctrl 0 fits the drawing."""
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            key = event.key()
            if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
                self.zoom_by(ZOOM_STEP)
                return
            if key in (Qt.Key.Key_Minus, Qt.Key.Key_Underscore):
                self.zoom_by(1 / ZOOM_STEP)
                return
            if key == Qt.Key.Key_0:
                self.fit()
                return
        super().keyPressEvent(event)

    def showEvent(self, event: QShowEvent) -> None:
        """Draw what arrived while hidden; fit the drawing the first time."""
        super().showEvent(event)
        if self._pending:
            pending, self._pending = self._pending, {}
            self._apply_now(pending)
        if not self._shown_once:
            self._shown_once = True
            self.fit()

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Keep the whole drawing in view until the person zooms."""
        super().resizeEvent(event)
        if self._fitted:
            self.fit()

    # -- for the shell and tests ---------------------------------------------------------------

    def readouts(self, tag: str) -> list[ReadoutItem]:
        """The read-outs showing `tag`."""
        return [b.item for b in self._readouts_by_tag.get(tag, ())]

    def symbol(self, symbol_id: str) -> SymbolItem:
        """The item of the symbol with this id."""
        for binding in self._symbols:
            if binding.defn.id == symbol_id:
                return binding.item
        raise KeyError(symbol_id)

    def symbol_label(self, symbol_id: str) -> str:
        """The label shown under the symbol with this id."""
        for binding in self._symbols:
            if binding.defn.id == symbol_id:
                return str(binding.label.text())
        raise KeyError(symbol_id)

    def marker(self, symbol_id: str) -> MarkerItem:
        """The alarm marker of the symbol with this id."""
        for binding in self._symbols:
            if binding.defn.id == symbol_id:
                return binding.marker
        raise KeyError(symbol_id)

    @property
    def pipes(self) -> list[PipeItem]:
        """The pipes, in file order."""
        return list(self._pipes)

    @property
    def links(self) -> list[LinkItem]:
        """The link buttons, in file order."""
        return [link for link, _, _ in self._links]

    @property
    def captions(self) -> list[str]:
        """The caption texts shown, in file order."""
        return [str(caption.text()) for caption, _ in self._captions]

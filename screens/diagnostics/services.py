"""The historian, publisher and relational database panel of the diagnostics screen.

Each value is a system tag (`_diag.history.*`, `_diag.publisher.*`, `_diag.database.*`) shown
as it arrives in change batches. A service that is down is drawn in the alarm colour; a value
of bad quality is shown as BAD, never as a number. A service the project does not run (no
publisher configured) says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from PySide6.QtWidgets import QFormLayout, QGroupBox, QHBoxLayout, QLabel, QWidget

from hmi.tags import Quality, TagDef, Value
from screens import theme
from screens.diagnostics.texts import number_text
from screens.i18n import tr

__all__ = ["SERVICES", "ServicesPanel"]


@dataclass(frozen=True, slots=True)
class Field:
    """One line of a service box: the system tag and how to read it."""

    tag: str
    label: str  # English, translated when shown
    kind: str = "count"  # count | number | up (True is normal) | flag (True is abnormal)
    on_text: str = "yes"
    off_text: str = "no"


SERVICES: tuple[tuple[str, tuple[Field, ...]], ...] = (
    (
        "Historian",
        (
            Field("_diag.history.online", "State", "up", "writing", "NOT WRITING"),
            Field("_diag.history.queue_fill", "Queue fill (%)", "number"),
            Field("_diag.history.written", "Values written"),
            Field("_diag.history.dropped", "Values dropped"),
            Field("_diag.history.errors", "Write errors"),
        ),
    ),
    (
        "Publisher",
        (
            Field("_diag.publisher.connected", "Broker", "up", "connected", "DISCONNECTED"),
            Field("_diag.publisher.sent_per_s", "Sent (1/s)", "number"),
            Field("_diag.publisher.queued", "Messages queued"),
            Field("_diag.publisher.dropped", "Messages dropped"),
            Field("_diag.publisher.overflow", "Buffer overflow", "flag", "DATA DROPPED", "none"),
        ),
    ),
    (
        "Database",
        (
            Field("_diag.database.online", "State", "up", "writing", "NOT WRITING"),
            Field("_diag.database.journal_queue", "Alarm journal backlog"),
        ),
    ),
)


class _Box:
    """One service's group box and the labels of its lines."""

    def __init__(self, title: str, fields: tuple[Field, ...], tags: Mapping[str, TagDef]) -> None:
        self.title = title
        self.group = QGroupBox()
        self.fields = [f for f in fields if f.tag in tags]
        self.names: list[QLabel] = []
        self.values: dict[str, QLabel] = {}
        self.latest: dict[str, Value] = {}
        form = QFormLayout(self.group)
        self.absent = QLabel()
        if not self.fields:
            form.addRow(self.absent)
        for f in self.fields:
            name, value = QLabel(), QLabel()
            value.setObjectName("diagValue")
            self.names.append(name)
            self.values[f.tag] = value
            form.addRow(name, value)

    def retranslate(self) -> None:
        self.group.setTitle(tr(self.title))
        self.absent.setText(tr("not configured in this project"))
        for f, name in zip(self.fields, self.names, strict=True):
            name.setText(tr(f.label))
        for tag, value in self.latest.items():
            self.show(tag, value)

    def show(self, tag: str, value: Value) -> None:
        field = next(f for f in self.fields if f.tag == tag)
        self.latest[tag] = value
        label = self.values[tag]
        if value.quality is Quality.BAD or value.value is None:
            reason = tr(str(value.reason)) if value.reason else tr("no value")
            label.setText(tr("BAD ({reason})").format(reason=reason))
            _paint(label, theme.QUALITY_BAD_BG.name(), theme.QUALITY_BAD_TEXT.name())
            return
        abnormal = False
        if field.kind in ("up", "flag"):
            on = bool(value.value)
            label.setText(tr(field.on_text) if on else tr(field.off_text))
            abnormal = on if field.kind == "flag" else not on
        else:
            label.setText(number_text(value.value, 1))
        if abnormal:
            _paint(label, theme.FAULT.name(), theme.QUALITY_BAD_TEXT.name())
        else:
            label.setStyleSheet("")


def _paint(label: QLabel, background: str, text: str) -> None:
    label.setStyleSheet(f"background-color: {background}; color: {text}; padding: 0 4px;")


class ServicesPanel(QWidget):
    """Historian, publisher and database state side by side."""

    def __init__(self, tags: Mapping[str, TagDef], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._boxes = [_Box(title, fields, tags) for title, fields in SERVICES]
        self._by_tag = {f.tag: box for box in self._boxes for f in box.fields}
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for box in self._boxes:
            layout.addWidget(box.group)
        self.retranslate()

    def apply(self, changes: Mapping[str, Value]) -> None:
        """Show the changed service tags."""
        for name, value in changes.items():
            box = self._by_tag.get(name)
            if box is not None:
                box.show(name, value)

    def text(self, tag: str) -> str:
        """The text shown for a service tag ('' when the project has no such tag)."""
        box = self._by_tag.get(tag)
        return box.values[tag].text() if box is not None else ""

    def retranslate(self) -> None:
        """Redraw every text in the current language."""
        for box in self._boxes:
            box.retranslate()

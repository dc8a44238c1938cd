"""The filter row over the active alarms (area, minimum priority, state, free text), and the
area and priority combos the journal's filters share with it."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QWidget

from hmi.client import AlarmState, Priority
from screens import i18n
from screens.alarms.model import UNACKED, AlarmFilter
from screens.alarms.texts import priority_name, state_name
from screens.i18n import tr

__all__ = ["STATE_CHOICES", "FilterBar", "add_priorities", "fill_areas", "label_priorities"]

# the state filter's choices: (English label, or None for the state's own name; states kept)
STATE_CHOICES: tuple[tuple[str | None, frozenset[AlarmState]], ...] = (
    ("All states", frozenset()),
    ("Unacknowledged", UNACKED),
    (None, frozenset({AlarmState.ACKED})),
    (None, frozenset({AlarmState.SHELVED})),
    (None, frozenset({AlarmState.SUPPRESSED})),
    (None, frozenset({AlarmState.OUT_OF_SERVICE})),
)


def fill_areas(combo: QComboBox, areas: Iterable[str]) -> None:
    """Offer "all areas" (item 0, data None) and `areas`, keeping the current choice."""
    chosen = combo.currentData()
    combo.blockSignals(True)
    while combo.count() > 1:
        combo.removeItem(1)
    for area in sorted(areas):
        combo.addItem(area, area)
    combo.setCurrentIndex(max(0, combo.findData(chosen)) if chosen else 0)
    combo.blockSignals(False)


def add_priorities(combo: QComboBox) -> None:
    """One item per minimum priority (data: the int level; Low is every priority)."""
    for level in sorted(Priority):
        combo.addItem("", int(level))


def label_priorities(combo: QComboBox) -> None:
    """Name the minimum-priority items in the current language."""
    for i in range(combo.count()):
        level = Priority(int(combo.itemData(i)))
        text = (
            tr("All priorities")
            if level is Priority.LOW
            else tr("{priority} and above").format(priority=priority_name(level))
        )
        combo.setItemText(i, text)


class FilterBar(QWidget):
    """Area, minimum priority, state and text filters applied to an AlarmFilter."""

    changed = Signal()

    def __init__(self, proxy: AlarmFilter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.proxy = proxy
        self.areas: set[str] = set()
        self.area_label, self.area = QLabel(self), QComboBox(self)
        self.area.addItem("", None)
        self.priority_label, self.priority = QLabel(self), QComboBox(self)
        add_priorities(self.priority)
        self.state_label, self.state = QLabel(self), QComboBox(self)
        for _ in STATE_CHOICES:
            self.state.addItem("")
        self.text = QLineEdit(self)
        self.text.setClearButtonEnabled(True)
        self.summary = QLabel(self)
        self.summary.setObjectName("summary")
        self.area.currentIndexChanged.connect(self._filter_area)
        self.priority.currentIndexChanged.connect(self._filter_priority)
        self.state.currentIndexChanged.connect(self._filter_state)
        self.text.textChanged.connect(self._filter_text)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for label, field in (
            (self.area_label, self.area),
            (self.priority_label, self.priority),
            (self.state_label, self.state),
        ):
            row.addWidget(label)
            row.addWidget(field)
        row.addWidget(self.text, 1)
        row.addWidget(self.summary)
        i18n.on_change(self._on_language)
        self.retranslate()

    def note_areas(self, areas: Iterable[str]) -> set[str]:
        """Offer these areas too; the ones new to the filter."""
        new = set(areas) - self.areas
        if new:
            self.areas |= new
            fill_areas(self.area, self.areas)
        return new

    def _filter_area(self, _index: int) -> None:
        area = self.area.currentData()
        self.proxy.set_areas([] if area is None else [area])
        self.changed.emit()

    def _filter_priority(self, _index: int) -> None:
        self.proxy.set_min_priority(int(self.priority.currentData()))
        self.changed.emit()

    def _filter_state(self, index: int) -> None:
        self.proxy.set_states(STATE_CHOICES[max(0, index)][1])
        self.changed.emit()

    def _filter_text(self, text: str) -> None:
        self.proxy.set_text(text)
        self.changed.emit()

    def _on_language(self, _code: str) -> None:
        self.retranslate()

    def retranslate(self) -> None:
        """Re-set every text in the current language."""
        self.area_label.setText(tr("Area"))
        self.area.setItemText(0, tr("All areas"))
        self.priority_label.setText(tr("Priority"))
        label_priorities(self.priority)
        self.state_label.setText(tr("State"))
        for i, (label, states) in enumerate(STATE_CHOICES):
            self.state.setItemText(i, tr(label) if label else state_name(next(iter(states))))
        self.text.setPlaceholderText(tr("Tag or message contains…"))

"""A faceplate's command controls: two buttons for a bool point, a target field for a number.

Each row only asks for a command (`requested(tag, target)`); the faceplate opens the command
dialog. Rows are enabled by the faceplate from the seat's permissions; the core checks again.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QWidget,
)

from hmi.client import CommandDef
from hmi.screen_config import SymbolDef
from hmi.tags import Quality, TagDef, Value
from screens.faceplate.texts import bool_meaning, value_text
from screens.i18n import tr

__all__ = ["BoolCommandRow", "CommandRow", "NumberCommandRow"]

SPIN_LIMIT = 1e9  # a number point without limits still needs a range for the field


class CommandRow(QWidget):
    """One commandable tag: its name, its current state and the controls that command it."""

    requested = Signal(str, object)  # tag, target

    def __init__(
        self, command: CommandDef, tag: TagDef | None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.command = command
        self.tag = tag
        self.name = QLabel(command.tag, self)
        self.name.setObjectName("commandTag")
        self.state = QLabel(self)
        self.state.setObjectName("commandState")
        self.value = Value.initial()
        self.layout_ = QHBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.addWidget(self.name)
        self.layout_.addWidget(self.state, 1)

    @property
    def state_tag(self) -> str:
        """The tag whose value the row shows (the point itself)."""
        return self.command.tag

    def show_value(self, value: Value) -> None:
        """Show the current state of the point."""
        self.value = value
        self.retranslate()

    def set_allowed(self, allowed: bool) -> None:
        """Enable or disable the controls."""
        raise NotImplementedError

    def retranslate(self, _code: str = "") -> None:
        """Re-set every text in the current language."""
        raise NotImplementedError


class BoolCommandRow(CommandRow):
    """Two buttons (Start / Stop, Auto / Manual, Open / Close...); the active one marked."""

    def __init__(
        self,
        command: CommandDef,
        tag: TagDef | None,
        symbol: SymbolDef | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(command, tag, parent)
        self.words = bool_meaning(command.tag, symbol)
        self.on_button = QPushButton(self)
        self.on_button.setObjectName("commandOn")
        self.off_button = QPushButton(self)
        self.off_button.setObjectName("commandOff")
        self.on_button.clicked.connect(lambda: self.requested.emit(command.tag, True))
        self.off_button.clicked.connect(lambda: self.requested.emit(command.tag, False))
        self.layout_.addWidget(self.on_button)
        self.layout_.addWidget(self.off_button)
        self.retranslate()

    @property
    def state_tag(self) -> str:
        """The tag that shows the equipment's actual state (the read-back: running, not asked)."""
        return self.command.readback or self.command.tag

    @property
    def active(self) -> bool | None:
        """The state now (True: the first button's meaning), None when unknown or bad."""
        if self.value.quality is Quality.BAD or self.value.value is None:
            return None
        return bool(self.value.value)

    def set_allowed(self, allowed: bool) -> None:
        """Enable or disable both buttons."""
        self.on_button.setEnabled(allowed)
        self.off_button.setEnabled(allowed)

    def retranslate(self, _code: str = "") -> None:
        """Re-set every text in the current language."""
        on, off = self.words
        self.on_button.setText(tr(on))
        self.off_button.setText(tr(off))
        active = self.active
        for button, mine in ((self.on_button, active is True), (self.off_button, active is False)):
            if button.property("active") != mine:
                button.setProperty("active", mine)
                button.style().unpolish(button)
                button.style().polish(button)
        if active is None:
            self.state.setText(tr("BAD"))
        else:
            self.state.setText(tr(on) if active else tr(off))


class NumberCommandRow(CommandRow):
    """A target field within the point's limits and a Set… button."""

    def __init__(
        self, command: CommandDef, tag: TagDef | None, parent: QWidget | None = None
    ) -> None:
        super().__init__(command, tag, parent)
        self.spin = QDoubleSpinBox(self)
        self.spin.setObjectName("commandTarget")
        decimals = 1 if tag is None or tag.decimals is None else tag.decimals
        self.spin.setDecimals(decimals)
        self.spin.setRange(
            -SPIN_LIMIT if command.min is None else command.min,
            SPIN_LIMIT if command.max is None else command.max,
        )
        self.spin.setSingleStep(1.0)
        self.spin.setCorrectionMode(QAbstractSpinBox.CorrectionMode.CorrectToNearestValue)
        self.spin.setKeyboardTracking(False)
        if tag is not None and tag.unit:
            self.spin.setSuffix(f" {tag.unit}")
        self._edited = False
        self.spin.lineEdit().textEdited.connect(self._on_edit)
        self.set_button = QPushButton(self)
        self.set_button.setObjectName("commandSet")
        self.set_button.clicked.connect(self._on_set)
        self.layout_.addWidget(self.spin)
        self.layout_.addWidget(self.set_button)
        self.retranslate()

    def _on_edit(self, _text: str) -> None:
        self._edited = True  # the person types a target: live values no longer overwrite it

    def _on_set(self) -> None:
        self.spin.interpretText()
        target: Any = round(self.spin.value(), self.spin.decimals())
        self._edited = False
        self.requested.emit(self.command.tag, target)

    def show_value(self, value: Value) -> None:
        """Show the current value; it fills the field until the person types a target."""
        super().show_value(value)
        number = value.value
        if not self._edited and value.quality is Quality.GOOD and isinstance(number, int | float):
            self.spin.setValue(float(number))

    def set_allowed(self, allowed: bool) -> None:
        """Enable or disable the field and the button."""
        self.spin.setEnabled(allowed)
        self.set_button.setEnabled(allowed)

    def retranslate(self, _code: str = "") -> None:
        """Re-set every text in the current language."""
        self.set_button.setText(tr("Set…"))
        text, _bad = value_text(self.tag, self.value)
        unit = self.tag.unit if self.tag is not None and not _bad else ""
        self.state.setText(f"{text} {unit}".strip())
        self.spin.setToolTip(tr("The target to write"))

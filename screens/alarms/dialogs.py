"""The small dialogs of the alarm panel: an optional comment, a required reason, a shelve.

Each is opened with `open()` (window-modal, never blocking the Qt thread) and hands its answer
to the `accepted` slot the panel connects.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from hmi.client import AlarmView
from screens import i18n
from screens.i18n import tr

__all__ = ["SHELVE_DURATIONS", "CommentDialog", "ReasonDialog", "ShelveDialog", "TextDialog"]

# (seconds, English label): 8 h is the engine's maximum (hmi.alarms.engine.MAX_SHELVE)
SHELVE_DURATIONS: tuple[tuple[float, str], ...] = (
    (15 * 60.0, "15 min"),
    (3600.0, "1 h"),
    (4 * 3600.0, "4 h"),
    (8 * 3600.0, "8 h"),
)


def _subject(views: list[AlarmView]) -> str:
    if len(views) == 1:
        view = views[0]
        return f"{view.tag}: {view.text(i18n.current())}"
    return tr("{n} alarms").format(n=len(views))


class TextDialog(QDialog):
    """A title, what it is about, one line of text and OK / Cancel."""

    def __init__(
        self, title: str, prompt: str, views: list[AlarmView], parent: QWidget | None
    ) -> None:
        super().__init__(parent)
        self._title, self._prompt, self._views = title, prompt, views
        self.subject = QLabel(self)
        self.subject.setWordWrap(True)
        self.label = QLabel(self)
        self.text = QLineEdit(self)
        self.form = QFormLayout()
        self.form.addRow(self.label, self.text)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.subject)
        layout.addLayout(self.form)
        layout.addWidget(self.buttons)
        i18n.on_change(self._on_language)
        self.retranslate()

    @property
    def ok(self) -> QPushButton:
        """The OK button."""
        return self.buttons.button(QDialogButtonBox.StandardButton.Ok)

    @property
    def cancel(self) -> QPushButton:
        """The Cancel button."""
        return self.buttons.button(QDialogButtonBox.StandardButton.Cancel)

    def value(self) -> str:
        """The text typed, trimmed."""
        return self.text.text().strip()

    def _on_language(self, _code: str) -> None:
        self.retranslate()

    def retranslate(self) -> None:
        """Re-set every text in the current language."""
        self.setWindowTitle(tr(self._title))
        self.label.setText(tr(self._prompt))
        self.subject.setText(_subject(self._views))
        self.ok.setText(tr("OK"))
        self.cancel.setText(tr("Cancel"))


class CommentDialog(TextDialog):
    """Asks for an optional comment (acknowledge)."""

    def __init__(self, title: str, views: list[AlarmView], parent: QWidget | None = None) -> None:
        super().__init__(title, "Comment (optional)", views, parent)


class ReasonDialog(TextDialog):
    """Asks for a required reason (out of service): OK only with one typed."""

    def __init__(self, title: str, views: list[AlarmView], parent: QWidget | None = None) -> None:
        super().__init__(title, "Reason", views, parent)
        self.text.textChanged.connect(self._check)
        self._check()

    def _check(self) -> None:
        self.ok.setEnabled(bool(self.value()))


class ShelveDialog(ReasonDialog):
    """Asks for a shelve's duration (at most a shift) and a required reason."""

    def __init__(self, views: list[AlarmView], parent: QWidget | None = None) -> None:
        super().__init__("Shelve alarm", views, parent)
        self.duration = QComboBox(self)
        self.duration_label = QLabel(self)
        self.form.insertRow(0, self.duration_label, self.duration)
        for seconds, _label in SHELVE_DURATIONS:
            self.duration.addItem("", seconds)
        self.duration.setCurrentIndex(1)
        self.retranslate()

    def seconds(self) -> float:
        """The chosen duration in seconds."""
        return float(self.duration.currentData())

    def _label_durations(self) -> None:
        for i, (_seconds, label) in enumerate(SHELVE_DURATIONS):
            self.duration.setItemText(i, tr(label))

    def retranslate(self) -> None:
        """Re-set every text in the current language."""
        super().retranslate()
        if hasattr(self, "duration"):  # not yet while the base class builds itself
            self.duration_label.setText(tr("Duration"))
            self._label_durations()

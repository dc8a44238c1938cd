"""The trend's dialogs: custom time range, the tag picker, and small questions (every text
through `tr`, the buttons included, so nothing shows Qt's untranslated defaults)."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QDateTime, Qt
from PySide6.QtWidgets import (
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from hmi.tags import DataType, TagDef
from screens import i18n
from screens.i18n import tr

__all__ = ["PenPicker", "RangeDialog", "ask_item", "ask_save_path", "ask_text", "ask_yes_no"]

DATETIME_FORMAT = "yyyy-MM-dd HH:mm:ss"


def _buttons(dialog: QDialog) -> QDialogButtonBox:
    box = QDialogButtonBox(dialog)
    box.addButton(tr("OK"), QDialogButtonBox.ButtonRole.AcceptRole)
    box.addButton(tr("Cancel"), QDialogButtonBox.ButtonRole.RejectRole)
    box.accepted.connect(dialog.accept)
    box.rejected.connect(dialog.reject)
    return box


class RangeDialog(QDialog):
    """Asks for a custom time range: from and to, local time."""

    def __init__(self, start: float, end: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.start_edit = QDateTimeEdit(QDateTime.fromSecsSinceEpoch(int(start)), self)
        self.end_edit = QDateTimeEdit(QDateTime.fromSecsSinceEpoch(int(end)), self)
        for edit in (self.start_edit, self.end_edit):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat(DATETIME_FORMAT)
        self.error = QLabel(self)
        self.error.setObjectName("error")
        self._start_label, self._end_label = QLabel(self), QLabel(self)
        form = QFormLayout()
        form.addRow(self._start_label, self.start_edit)
        form.addRow(self._end_label, self.end_edit)
        self.buttons = _buttons(self)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.retranslate()
        i18n.on_change(self.retranslate)

    def retranslate(self, _code: str = "") -> None:
        """Set every text in the current language."""
        self.setWindowTitle(tr("Custom time range"))
        self._start_label.setText(tr("From"))
        self._end_label.setText(tr("To"))
        ok, cancel = self.buttons.buttons()
        ok.setText(tr("OK"))
        cancel.setText(tr("Cancel"))

    def span(self) -> tuple[float, float]:
        """The chosen range in epoch seconds."""
        lo = self.start_edit.dateTime().toMSecsSinceEpoch() / 1000.0
        hi = self.end_edit.dateTime().toMSecsSinceEpoch() / 1000.0
        return lo, hi

    def accept(self) -> None:
        """Close when the range is valid (from before to)."""
        lo, hi = self.span()
        if hi <= lo:
            self.error.setText(tr("The end must be after the start."))
            return
        super().accept()


def trendable(tag: TagDef) -> bool:
    """True for tags a trend can draw (numbers and on/off states)."""
    return tag.type is not DataType.STRING


class PenPicker(QDialog):
    """Pick tags to add as pens: a filter box over every tag that can be trended."""

    def __init__(
        self, tags: Mapping[str, TagDef], exclude: set[str], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.filter = QLineEdit(self)
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._apply_filter)
        self.list = QListWidget(self)
        self.list.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        for tag in tags.values():
            if trendable(tag) and tag.name not in exclude:
                text = f"{tag.name}  {tag.description}".strip()
                if tag.unit:
                    text += f"  [{tag.unit}]"
                item = QListWidgetItem(text, self.list)
                item.setData(Qt.ItemDataRole.UserRole, tag.name)
        self.list.itemDoubleClicked.connect(lambda _: self.accept())
        self.buttons = _buttons(self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.buttons)
        self.resize(520, 480)
        self.retranslate()
        i18n.on_change(self.retranslate)

    def retranslate(self, _code: str = "") -> None:
        """Set every text in the current language."""
        self.setWindowTitle(tr("Add pen"))
        self.filter.setPlaceholderText(tr("Filter tags by name or description"))
        ok, cancel = self.buttons.buttons()
        ok.setText(tr("Add"))
        cancel.setText(tr("Cancel"))

    def _apply_filter(self, text: str) -> None:
        needle = text.strip().lower()
        for row in range(self.list.count()):
            item = self.list.item(row)
            item.setHidden(bool(needle) and needle not in item.text().lower())

    def shown(self) -> list[str]:
        """The tag names the filter leaves visible."""
        items = (self.list.item(r) for r in range(self.list.count()))
        return [i.data(Qt.ItemDataRole.UserRole) for i in items if not i.isHidden()]

    def chosen(self) -> list[str]:
        """The selected, visible tag names in list order."""
        rows = sorted(self.list.row(i) for i in self.list.selectedItems() if not i.isHidden())
        return [self.list.item(r).data(Qt.ItemDataRole.UserRole) for r in rows]


def ask_text(parent: QWidget, title: str, label: str, text: str = "") -> str | None:
    """A line of text from the person, or None when cancelled."""
    dialog = QInputDialog(parent)
    dialog.setWindowTitle(title)
    dialog.setLabelText(label)
    dialog.setTextValue(text)
    dialog.setOkButtonText(tr("OK"))
    dialog.setCancelButtonText(tr("Cancel"))
    return dialog.textValue() if dialog.exec() == QDialog.DialogCode.Accepted else None


def ask_item(parent: QWidget, title: str, label: str, items: list[str]) -> str | None:
    """One of `items` chosen by the person, or None when cancelled."""
    dialog = QInputDialog(parent)
    dialog.setWindowTitle(title)
    dialog.setLabelText(label)
    dialog.setComboBoxItems(items)
    dialog.setComboBoxEditable(False)
    dialog.setOkButtonText(tr("Open"))
    dialog.setCancelButtonText(tr("Cancel"))
    return dialog.textValue() if dialog.exec() == QDialog.DialogCode.Accepted else None


def ask_yes_no(parent: QWidget, title: str, text: str) -> bool:
    """True when the person answers yes."""
    box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.NoButton)
    box.setParent(parent, box.windowFlags())
    yes = box.addButton(tr("Yes"), QMessageBox.ButtonRole.YesRole)
    box.addButton(tr("No"), QMessageBox.ButtonRole.NoRole)
    box.exec()
    return box.clickedButton() is yes


def tell(parent: QWidget, title: str, text: str) -> None:
    """Show a message the person closes."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.NoButton)
    box.setParent(parent, box.windowFlags())
    box.addButton(tr("Close"), QMessageBox.ButtonRole.AcceptRole)
    box.exec()


def ask_save_path(parent: QWidget, title: str, name: str, file_filter: str) -> str | None:
    """A file path to write, or None when cancelled."""
    path, _ = QFileDialog.getSaveFileName(parent, title, name, file_filter)
    return path or None

"""The trend's tool row: time preset, Live, add pen, groups and export buttons."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QPushButton, QWidget

from screens.i18n import tr
from screens.trends.presets import CUSTOM, CUSTOM_LABEL, PRESETS

__all__ = ["TrendToolbar"]


class TrendToolbar(QWidget):
    """Buttons above the chart; the view connects them."""

    preset_chosen = Signal(str)  # a preset key, or "custom"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trendToolbar")
        self.preset_box = QComboBox(self)
        self.preset_box.setObjectName("trendPreset")
        for key in PRESETS:
            self.preset_box.addItem("", key)
        self.preset_box.addItem("", CUSTOM)
        self.preset_box.activated.connect(
            lambda index: self.preset_chosen.emit(self.preset_box.itemData(index))
        )
        self.live_button = QPushButton(self)
        self.live_button.setObjectName("trendLive")
        self.live_button.setCheckable(True)
        self.add_button = QPushButton(self)
        self.save_button = QPushButton(self)
        self.open_button = QPushButton(self)
        self.xlsx_button = QPushButton(self)
        self.csv_button = QPushButton(self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.preset_box)
        layout.addWidget(self.live_button)
        layout.addSpacing(12)
        layout.addWidget(self.add_button)
        layout.addStretch(1)
        for button in (self.save_button, self.open_button, self.xlsx_button, self.csv_button):
            layout.addWidget(button)
        self.retranslate()

    def retranslate(self, _code: str = "") -> None:
        """Set every text in the current language."""
        for index in range(self.preset_box.count()):
            key = self.preset_box.itemData(index)
            label = CUSTOM_LABEL if key == CUSTOM else PRESETS[key][1]
            self.preset_box.setItemText(index, tr(label))
        self.preset_box.setToolTip(tr("Time range shown"))
        self.live_button.setText(tr("Live"))
        self.live_button.setToolTip(tr("Follow the current time"))
        self.add_button.setText(tr("Add pen…"))
        self.add_button.setToolTip(tr("Add tags to the chart (or drag them from the tag browser)"))
        self.save_button.setText(tr("Save group…"))
        self.open_button.setText(tr("Open group…"))
        self.xlsx_button.setText(tr("Export to Excel…"))
        self.csv_button.setText(tr("Export to CSV…"))

    def show_preset(self, key: str) -> None:
        """Show `key` as the chosen preset (without emitting)."""
        index = self.preset_box.findData(key)
        if index >= 0:
            self.preset_box.setCurrentIndex(index)

    def show_live(self, live: bool) -> None:
        """Show whether the chart follows now."""
        self.live_button.setChecked(live)

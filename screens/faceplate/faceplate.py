"""The faceplate of one plant symbol: its values, a one-hour trend, its alarms and its commands.

A non-modal dialog the shell opens when a diagram symbol is clicked (one per symbol). It reads
its first values from `client.snapshot()` and its alarms from `client.active_alarms()`; after
that the shell subscribes `apply` and `apply_alarms` to the one Refresher while it is open. The
trend's history arrives as a future. Command buttons are enabled only when the person at the
seat may operate in the point's area (checked again on every session change and every tick, so
an idle lock disables them); the core checks again at every step regardless.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from hmi.client import AlarmState, AlarmView, CommandDef, CommandResult, Priority, Trend
from hmi.screen_config import SymbolDef
from hmi.tags import DataType, Value
from screens import i18n, theme
from screens.context import AppContext
from screens.faceplate.command_dialog import CommandDialog, Step
from screens.faceplate.command_rows import BoolCommandRow, CommandRow, NumberCommandRow
from screens.faceplate.mini_trend import WINDOW, MiniTrend
from screens.faceplate.texts import result_text
from screens.faceplate.values import ValueGrid
from screens.i18n import tr

__all__ = ["TREND_BUCKETS", "Faceplate"]

TREND_BUCKETS = 300
OPERATE = "operate"
PRIORITY_WORDS = {
    Priority.URGENT: "Urgent",
    Priority.HIGH: "High",
    Priority.MEDIUM: "Medium",
    Priority.LOW: "Low",
}


class Faceplate(QDialog):
    """Values, trend, alarms and commands of one plant symbol."""

    def __init__(
        self, context: AppContext, symbol: SymbolDef, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("faceplate")
        self.setModal(False)
        self.context = context
        self.symbol = symbol
        client = context.client
        self.defs = client.tag_defs()
        self.commands: Mapping[str, CommandDef] = client.command_defs()
        self.last_result: CommandResult | None = None
        self.command_dialog: CommandDialog | None = None
        self._alarms: dict[str, AlarmView] = {}
        self._refusal = ""  # the last refusal in words (cleared by the next result)
        self._tags = frozenset(symbol.tags)

        self.title = QLabel(self)
        self.title.setObjectName("title")
        shown = tuple(dict.fromkeys(t for t in (symbol.state, *symbol.values) if t))
        self.values = ValueGrid(shown, self.defs, self)
        self.trend = MiniTrend(symbol.trend, self)
        self.alarm_list = QListWidget(self)
        self.alarm_list.setObjectName("faceplateAlarms")
        self.alarm_list.setMaximumHeight(90)
        self.rows: dict[str, CommandRow] = {}
        for name in symbol.commands:
            command = self.commands.get(name)
            if command is None:
                continue  # not commandable (the screen check reports it)
            tag = self.defs.get(name)
            if tag is not None and tag.type is DataType.BOOL:
                row: CommandRow = BoolCommandRow(command, tag, symbol, self)
            else:
                row = NumberCommandRow(command, tag, self)
            row.requested.connect(self.request)
            self.rows[name] = row
        self.result_label = QLabel(self)
        self.result_label.setObjectName("commandResult")
        self.result_label.setWordWrap(True)
        self.close_button = QPushButton(self)
        self.close_button.clicked.connect(self.close)

        self._groups = {
            "Values": QGroupBox(self),
            "Trend, last hour": QGroupBox(self),
            "Alarms": QGroupBox(self),
            "Commands": QGroupBox(self),
        }
        for key, content in (
            ("Values", [self.values]),
            ("Trend, last hour", [self.trend]),
            ("Alarms", [self.alarm_list]),
            ("Commands", [*self.rows.values(), self.result_label]),
        ):
            box = QVBoxLayout(self._groups[key])
            for widget in content:
                box.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        for key, group in self._groups.items():
            if key == "Trend, last hour" and not symbol.trend:
                group.hide()
            if key == "Commands" and not self.rows:
                group.hide()
            layout.addWidget(group)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(self.close_button)
        layout.addLayout(bottom)
        self.resize(560, 620)

        i18n.on_change(self.retranslate)
        context.session_changed.connect(self._on_session)
        _, values = client.snapshot()
        self.apply(values)
        self.apply_alarms(client.active_alarms())
        self.retranslate()
        if symbol.trend:
            now = datetime.now().timestamp()
            future = client.history_trend(symbol.trend, now - WINDOW, now, TREND_BUCKETS)
            context.call(future, self._history, self._history_failed, guard=self)

    # ---- live data -----------------------------------------------------------------------------

    def apply(self, changes: Mapping[str, Value]) -> None:
        """Show a batch of changed values (the Refresher's tag subscriber)."""
        self.values.apply(changes)
        self.trend.append(changes)
        for row in self.rows.values():
            value = changes.get(row.state_tag)
            if value is not None:
                row.show_value(value)
        self._update_allowed()  # an idle lock takes the buttons away without a session change

    def apply_alarms(self, views: list[AlarmView]) -> None:
        """Merge alarm changes of this symbol's tags (the Refresher's alarm subscriber)."""
        changed = False
        for view in views:
            if view.tag not in self._tags:
                continue
            changed = True
            if view.state is AlarmState.NORMAL:
                self._alarms.pop(view.id, None)
            else:
                self._alarms[view.id] = view
        if changed:
            self._show_alarms()

    def _history(self, trends: dict[str, Trend]) -> None:
        self.trend.load(trends)

    def _history_failed(self, error: BaseException) -> None:
        self.trend.setToolTip(tr("No history: {error}").format(error=error))

    def _show_alarms(self) -> None:
        language = i18n.current()
        self.alarm_list.clear()
        views = sorted(self._alarms.values(), key=lambda v: (-int(v.priority), -(v.since or 0)))
        for view in views:
            when = datetime.fromtimestamp(view.since).strftime("%H:%M:%S") if view.since else ""
            priority = tr(PRIORITY_WORDS.get(view.priority, "Low"))
            item = QListWidgetItem(f"{priority}  {when}  {view.tag}  {view.text(language)}")
            item.setData(Qt.ItemDataRole.UserRole, view.id)
            if not view.acked:
                item.setBackground(theme.priority_colour(view.priority))
                item.setForeground(theme.TEXT)
            else:
                item.setForeground(QColor(theme.priority_colour(view.priority).darker(160)))
            self.alarm_list.addItem(item)
        if not views:
            item = QListWidgetItem(tr("No active alarms"))
            item.setForeground(theme.TEXT_DIM)
            self.alarm_list.addItem(item)

    def alarm_texts(self) -> list[str]:
        """The alarm lines shown (an empty list when there are none)."""
        if not self._alarms:
            return []
        return [self.alarm_list.item(i).text() for i in range(self.alarm_list.count())]

    # ---- commands ------------------------------------------------------------------------------

    def _on_session(self, _session: object) -> None:
        self._update_allowed()

    def _update_allowed(self) -> None:
        for row in self.rows.values():
            row.set_allowed(self.context.may(OPERATE, row.command.area))

    def request(self, tag: str, target: Any) -> CommandDialog:
        """Open the command dialog for `tag` to `target` (what a command button does)."""
        self.context.touch()
        previous = self.command_dialog
        if previous is not None and previous.step is not Step.OPERATING:
            previous.deleteLater()  # finished with: one dialog per command, not one per click
        dialog = CommandDialog(self.context, self.commands[tag], target, self.symbol, self)
        dialog.finished_command.connect(self._show_result)
        dialog.refused.connect(self._show_refusal)
        self.command_dialog = dialog
        dialog.open()
        return dialog

    def _show_result(self, result: CommandResult) -> None:
        self.last_result = result
        self._refusal = ""
        self._show_last()

    def _show_refusal(self, message: str) -> None:
        self._refusal = message
        self._show_last()

    def _show_last(self) -> None:
        if self._refusal:
            self.result_label.setText(self._refusal)
        elif self.last_result is not None:
            command = self.commands.get(self.last_result.tag)
            self.result_label.setText(
                result_text(self.last_result, self.defs, command, self.symbol)
            )
        else:
            self.result_label.setText("")

    def retranslate(self, _code: str = "") -> None:
        """Re-set every text in the current language."""
        label = self.symbol.label.get(i18n.current())
        title = f"{label} {self.symbol.id}".strip()
        self.setWindowTitle(title)
        self.title.setText(title)
        for key, group in self._groups.items():
            group.setTitle(tr(key))
        self.values.retranslate()
        for row in self.rows.values():
            row.retranslate()
        self.close_button.setText(tr("Close"))
        self._show_alarms()
        self._show_last()
        self._update_allowed()

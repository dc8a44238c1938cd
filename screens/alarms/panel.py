"""The alarm panel: the active alarms with their requests and response, and the journal.

The shell subscribes `apply_alarms` to the Refresher; the first batch it delivers is the full
`active_alarms()`. Areas met in the alarms are offered in both tabs' area filters.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtWidgets import QTabWidget, QWidget

from hmi.client import AlarmView
from screens import i18n
from screens.alarms.active import ActiveAlarms
from screens.alarms.journal import JournalView
from screens.context import AppContext
from screens.i18n import tr

__all__ = ["AlarmPanel"]


class AlarmPanel(QTabWidget):
    """Two tabs: the active alarms and the alarm journal."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("alarmPanel")
        self.context = context
        self.active = ActiveAlarms(context, self)
        self.journal = JournalView(context, self)
        self.active.areas_seen.connect(self.journal.add_areas)
        self.addTab(self.active, "")
        self.addTab(self.journal, "")
        self._journal_loaded = False
        self.currentChanged.connect(self._tab_changed)
        i18n.on_change(self._on_language)
        self.retranslate()

    def apply_alarms(self, views: Iterable[AlarmView]) -> None:
        """Merge a batch of alarm changes (subscribed to the Refresher)."""
        self.active.apply_alarms(views)

    def show_active(self) -> None:
        """Bring the active alarms to the front."""
        self.setCurrentWidget(self.active)

    def _tab_changed(self, index: int) -> None:
        if self.widget(index) is self.journal and not self._journal_loaded:
            self._journal_loaded = True  # the first look loads the default range by itself
            self.journal.load()

    def _on_language(self, _code: str) -> None:
        self.retranslate()

    def retranslate(self) -> None:
        """Re-set every text in the current language."""
        self.setTabText(self.indexOf(self.active), tr("Active alarms"))
        self.setTabText(self.indexOf(self.journal), tr("Alarm journal"))

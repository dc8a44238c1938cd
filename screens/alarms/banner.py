"""The alarm banner: a strip on every screen with the alarm counts, the newest alarm and the horn.

Per priority it counts the unacknowledged alarms (unacknowledged, active or returned) and the
active ones the operator sees (condition active, not shelved, suppressed or out of service); a
count box takes its priority's colour while it holds an unacknowledged alarm. The newest
unacknowledged alarm is shown with an Ack button that acknowledges exactly that alarm. A click
anywhere else on the strip asks the shell to open the alarm panel (`open_alarms`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from hmi.client import AlarmState, AlarmView, Priority
from screens import i18n, theme
from screens.alarms.horn import Horn
from screens.alarms.model import HIDDEN, UNACKED, priority_colour
from screens.alarms.texts import language, priority_name
from screens.context import AppContext
from screens.i18n import tr

__all__ = ["AlarmBanner", "Counts"]

ACKNOWLEDGE = "acknowledge"
PRIORITIES = (Priority.URGENT, Priority.HIGH, Priority.MEDIUM, Priority.LOW)  # left to right

Counts = dict[Priority, tuple[int, int]]  # priority -> (unacknowledged, active)


class AlarmBanner(QFrame):
    """Alarm counts per priority, the newest unacknowledged alarm with Ack, the horn's silence."""

    open_alarms = Signal()

    def __init__(
        self, context: AppContext, parent: QWidget | None = None, *, horn: Horn | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("alarmBanner")
        self.context = context
        self.horn = horn if horn is not None else Horn(self)
        self._views: dict[str, AlarmView] = {}
        self.newest: AlarmView | None = None
        self.counts: Counts = {p: (0, 0) for p in PRIORITIES}
        self._refusal = ""

        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        self.count_labels: dict[Priority, QLabel] = {}
        for priority in PRIORITIES:
            label = QLabel(self)
            label.setObjectName("alarmCount")
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setMinimumWidth(72)
            self.count_labels[priority] = label
            layout.addWidget(label)
        self.time = QLabel(self)
        self.time.setObjectName("alarmTime")
        self.tag = QLabel(self)
        self.tag.setObjectName("alarmTag")
        self.text = QLabel(self)
        self.text.setObjectName("alarmText")
        self.ack = QPushButton(self)
        self.ack.setObjectName("alarmAck")
        self.silence = QPushButton(self)
        self.silence.setObjectName("hornSilence")
        self.silence.setProperty("sounding", False)
        layout.addWidget(self.time)
        layout.addWidget(self.tag)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.ack)
        layout.addWidget(self.silence)

        self.ack.clicked.connect(self._ack)
        self.silence.clicked.connect(self.horn.silence)
        self.horn.sounding_changed.connect(self._sounding)
        self.context.session_changed.connect(self._on_session)
        i18n.on_change(self._on_language)
        self.retranslate()

    # ---- alarms in ----------------------------------------------------------------------------

    def apply_alarms(self, views: Iterable[AlarmView]) -> None:
        """Merge a batch of alarm changes (subscribed to the Refresher); the horn follows it."""
        views = list(views)
        for view in views:
            if view.state is AlarmState.NORMAL:
                self._views.pop(view.id, None)
            else:
                self._views[view.id] = view
        self.horn.apply_alarms(views)
        self._recount()

    def unacknowledged(self) -> list[AlarmView]:
        """The unacknowledged alarms the banner counts, newest first."""
        found = [v for v in self._views.values() if v.state in UNACKED]
        return sorted(found, key=lambda v: v.since or 0.0, reverse=True)

    def _recount(self) -> None:
        unacked = {p: 0 for p in PRIORITIES}
        active = {p: 0 for p in PRIORITIES}
        newest: AlarmView | None = None
        for view in self._views.values():
            level = Priority(view.priority)
            if view.state in UNACKED:
                unacked[level] += 1
                if newest is None or (view.since or 0.0) > (newest.since or 0.0):
                    newest = view
            if view.active and view.state not in HIDDEN:
                active[level] += 1
        self.counts = {p: (unacked[p], active[p]) for p in PRIORITIES}
        if newest is None or self.newest is None or newest.id != self.newest.id:
            self._refusal = ""
        self.newest = newest
        self._show()

    # ---- what is shown ----------------------------------------------------------------------

    def _show(self) -> None:
        for priority, label in self.count_labels.items():
            unacked, active = self.counts[priority]
            label.setText(f"{priority_name(priority)} {unacked}/{active}")
            label.setToolTip(
                tr("{priority}: {unacked} unacknowledged, {active} active").format(
                    priority=priority_name(priority), unacked=unacked, active=active
                )
            )
            if unacked:
                fill = priority_colour(priority).name()
                label.setStyleSheet(
                    f"background-color: {fill}; color: {theme.TEXT.name()}; font-weight: bold;"
                )
            else:
                label.setStyleSheet("")
        view = self.newest
        if view is None:
            self.time.setText("")
            self.tag.setText("")
            self.text.setText(tr("No unacknowledged alarms"))
        else:
            since = datetime.fromtimestamp(view.since).strftime("%H:%M:%S") if view.since else ""
            self.time.setText(since)
            self.tag.setText(view.tag)
            self.text.setText(self._refusal or view.text(language()))
            self.text.setToolTip(view.id)
        self._update_buttons()

    def _update_buttons(self) -> None:
        view = self.newest
        self.ack.setEnabled(view is not None and self.context.may(ACKNOWLEDGE, view.area))

    def _sounding(self, sounding: bool) -> None:
        self.silence.setProperty("sounding", sounding)
        # highlighted while sounding: the colour of the most urgent priority (the theme's)
        self.silence.setStyleSheet(
            f"background-color: {theme.PRIORITY[1].name()}; color: {theme.SYMBOL_OFF.name()};"
            " font-weight: bold;"
            if sounding
            else ""
        )

    # ---- requests ---------------------------------------------------------------------------

    def _ack(self) -> None:
        view, session = self.newest, self.context.session
        if view is None or session is None:
            return
        self.context.touch()
        alarm = view.id

        def acked(refused: list[str]) -> None:
            if refused:
                self._refused("; ".join(refused), alarm)

        def failed(error: BaseException) -> None:
            self._refused(str(error), alarm)

        future = self.context.client.acknowledge(session, [alarm], "")
        self.context.call(future, acked, failed, guard=self)

    def _refused(self, reason: str, alarm: str) -> None:
        if self.newest is not None and self.newest.id == alarm:
            self._refusal = tr("Refused: {reason}").format(reason=reason)
            self._show()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        """A click on the strip (not on a button) opens the alarm panel."""
        if event.button() is Qt.MouseButton.LeftButton:
            self.open_alarms.emit()
        super().mouseReleaseEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        """Accept the press so its release comes here."""
        event.accept()

    # ---- session and language ---------------------------------------------------------------

    def _on_session(self, _session: object) -> None:
        self._update_buttons()

    def _on_language(self, _code: str) -> None:
        self.retranslate()

    def retranslate(self) -> None:
        """Re-set every text in the current language."""
        self.setToolTip(tr("Click to open the alarm panel"))
        self.ack.setText(tr("Ack"))
        self.ack.setToolTip(tr("Acknowledge this alarm"))
        self.silence.setText(tr("Silence horn"))
        self._show()

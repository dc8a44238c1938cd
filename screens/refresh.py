"""One QTimer pulls the changes since the last version and hands them to views.

The UI never receives a signal per tag update: however busy the plant, a view gets at most one
coalesced batch of tag changes and one of alarm changes per refresh tick.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

from hmi.client import AlarmView, RuntimeClient
from hmi.tags import Value

Changes = dict[str, Value]
AlarmChanges = list[AlarmView]


class Refresher(QObject):
    """Pulls tag and alarm changes from the client at a fixed rate and calls subscribed methods."""

    def __init__(
        self, client: RuntimeClient, interval_ms: int = 250, parent: QObject | None = None
    ):
        super().__init__(parent)
        self._client = client
        self._version = 0
        self._alarm_version = 0
        self._subscribers: list[weakref.WeakMethod[Callable[[Changes], None]]] = []
        self._alarm_subscribers: list[weakref.WeakMethod[Callable[[AlarmChanges], None]]] = []
        self.ticks = 0  # refresh ticks so far (tests and the benchmark wait on it)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.tick)

    def subscribe(self, method: Callable[[Changes], None]) -> None:
        """Deliver change batches to a bound method (held weakly: a closed view drops out)."""
        self._subscribers.append(weakref.WeakMethod(method))

    def subscribe_alarms(self, method: Callable[[AlarmChanges], None]) -> None:
        """Deliver alarm change batches to a bound method (held weakly)."""
        self._alarm_subscribers.append(weakref.WeakMethod(method))

    @property
    def interval_ms(self) -> int:
        """Milliseconds between ticks."""
        return self._timer.interval()

    def set_interval(self, ms: int) -> None:
        """Change the refresh period (100-500 ms: 2-10 Hz)."""
        self._timer.setInterval(max(100, min(500, int(ms))))

    def start(self) -> None:
        """Deliver a full snapshot now, then changes at every tick."""
        self._version, values = self._client.snapshot()
        self._deliver(values)
        self._alarm_version, _ = self._client.alarm_changes_since(0)
        self._deliver_alarms(self._client.active_alarms())
        self._timer.start()

    def stop(self) -> None:
        """Stop pulling."""
        self._timer.stop()

    def tick(self) -> None:
        """Pull and deliver the changes since the last tick."""
        version, changes = self._client.changes_since(self._version)
        self._version = version
        if changes:
            self._deliver(changes)
        alarm_version, alarms = self._client.alarm_changes_since(self._alarm_version)
        self._alarm_version = alarm_version
        if alarms:
            self._deliver_alarms(alarms)
        self.ticks += 1

    def _deliver(self, changes: Changes) -> None:
        alive = []
        for ref in self._subscribers:
            method = ref()
            if method is not None:
                method(changes)
                alive.append(ref)
        self._subscribers = alive

    def _deliver_alarms(self, views: AlarmChanges) -> None:
        alive = []
        for ref in self._alarm_subscribers:
            method = ref()
            if method is not None:
                method(views)
                alive.append(ref)
        self._alarm_subscribers = alive

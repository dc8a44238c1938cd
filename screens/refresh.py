"""One QTimer per window pulls the changes since the last version and hands them to views.

The UI never receives a signal per tag update: however busy the plant, a view gets at most one
coalesced batch per refresh tick.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

from hmi.client import RuntimeClient
from hmi.tags import Value

Changes = dict[str, Value]


class Refresher(QObject):
    """Pulls `changes_since` from the client at a fixed rate and calls subscribed methods."""

    def __init__(
        self, client: RuntimeClient, interval_ms: int = 250, parent: QObject | None = None
    ):
        super().__init__(parent)
        self._client = client
        self._version = 0
        self._subscribers: list[weakref.WeakMethod[Callable[[Changes], None]]] = []
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.tick)

    def subscribe(self, method: Callable[[Changes], None]) -> None:
        """Deliver change batches to a bound method (held weakly: a closed view drops out)."""
        self._subscribers.append(weakref.WeakMethod(method))

    def start(self) -> None:
        """Deliver a full snapshot now, then changes at every tick."""
        self._version, values = self._client.snapshot()
        self._deliver(values)
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

    def _deliver(self, changes: Changes) -> None:
        alive = []
        for ref in self._subscribers:
            method = ref()
            if method is not None:
                method(changes)
                alive.append(ref)
        self._subscribers = alive

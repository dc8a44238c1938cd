"""The alarm horn: sounds while a new unacknowledged HIGH or URGENT alarm waits for the operator.

An alarm *arrives* when it enters the active-unacknowledged state (first activation, or again
after it had cleared). The horn sounds while at least one arrival since the last `silence()` is
still unacknowledged; acknowledging all of them stops it, and `silence()` stops it until the next
arrival. The state is observable (`sounding`, `sounding_changed`) so the banner and tests need no
speaker. Sound: a QSoundEffect when QtMultimedia is installed, else `QApplication.beep()`; a
QTimer repeats it, so nothing ever blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from PySide6.QtCore import QObject, QTimer, QUrl, Signal
from PySide6.QtWidgets import QApplication

from hmi.client import AlarmState, AlarmView, Priority
from hmi.resources import resource_path

__all__ = ["HORN_PRIORITIES", "Horn"]

HORN_PRIORITIES = frozenset({Priority.HIGH, Priority.URGENT})
UNACKED = frozenset({AlarmState.UNACK, AlarmState.RTN_UNACK})
REPEAT_MS = 1500  # one horn blast every 1.5 s while sounding


def _player(parent: QObject) -> Callable[[], None]:
    """A function that makes one horn sound."""
    try:
        from PySide6.QtMultimedia import QSoundEffect
    except ImportError:  # PySide6-essentials has no QtMultimedia: the system beep
        return QApplication.beep
    effect = QSoundEffect(parent)
    effect.setSource(QUrl.fromLocalFile(str(resource_path("sounds", "horn.wav"))))
    play: Callable[[], None] = effect.play
    return play


class Horn(QObject):
    """Sounds, repeating, while a HIGH/URGENT alarm arrived since the last silence is unacked."""

    sounding_changed = Signal(bool)

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        repeat_ms: int = REPEAT_MS,
        player: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(parent)
        self._last: dict[str, AlarmState] = {}  # horn-priority alarms: the state last seen
        self._ringing: set[str] = set()  # arrivals since the last silence, still unacked
        self._play = player if player is not None else _player(self)
        self.blasts = 0  # sounds made so far (tests and diagnostics)
        self._timer = QTimer(self)
        self._timer.setInterval(repeat_ms)
        self._timer.timeout.connect(self._blast)

    @property
    def sounding(self) -> bool:
        """True while the horn sounds."""
        return bool(self._ringing)

    @property
    def ringing_for(self) -> frozenset[str]:
        """The ids of the alarms the horn sounds for."""
        return frozenset(self._ringing)

    def apply_alarms(self, views: Iterable[AlarmView]) -> None:
        """Follow a batch of alarm changes: new arrivals start the horn, acks stop it."""
        was = self.sounding
        for view in views:
            before = self._last.get(view.id, AlarmState.NORMAL)
            if view.priority not in HORN_PRIORITIES or view.state is AlarmState.NORMAL:
                self._last.pop(view.id, None)
            else:
                self._last[view.id] = view.state
            if view.state not in UNACKED or view.priority not in HORN_PRIORITIES:
                self._ringing.discard(view.id)
            elif view.state is AlarmState.UNACK and before is not AlarmState.UNACK:
                self._ringing.add(view.id)
        self._changed(was)

    def silence(self) -> None:
        """Stop the horn until the next arrival."""
        was = self.sounding
        self._ringing.clear()
        self._changed(was)

    def stop(self) -> None:
        """Stop sounding and forget every alarm (the window closes)."""
        self._last.clear()
        self.silence()

    def _changed(self, was: bool) -> None:
        now = self.sounding
        if now == was:
            return
        if now:
            self._blast()
            self._timer.start()
        else:
            self._timer.stop()
        self.sounding_changed.emit(now)

    def _blast(self) -> None:
        self.blasts += 1
        self._play()

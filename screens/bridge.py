"""The one seam where the client's futures come back to the Qt thread."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

import shiboken6
from PySide6.QtCore import QObject, Signal

__all__ = ["when_done"]

log = logging.getLogger("screens.bridge")

T = TypeVar("T")


class _Relay(QObject):
    """Lives on the Qt thread; a worker thread emits `run` and the slot runs on the Qt thread."""

    run = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.run.connect(self._call)

    @staticmethod
    def _call(fn: Callable[[], None]) -> None:
        fn()


_relays: list[_Relay] = []  # one, made on first use on the Qt thread


def when_done(
    future: Future[T],
    on_result: Callable[[T], None],
    on_error: Callable[[BaseException], None] | None = None,
    *,
    guard: QObject | None = None,
) -> None:
    """Call `on_result(value)` or `on_error(exc)` on the Qt thread once `future` is done.

    Call it from the Qt thread. With `guard`, nothing is called once that object is deleted
    (a dialog closed before the answer came).
    """
    if not _relays:
        _relays.append(_Relay())
    relay = _relays[0]

    def finish(done: Future[T]) -> None:
        if guard is not None and not shiboken6.isValid(guard):
            return
        error = done.exception()
        if error is None:
            on_result(done.result())
        elif on_error is not None:
            on_error(error)
        else:
            log.error("request failed: %s", error)

    future.add_done_callback(lambda done: relay.run.emit(lambda: finish(done)))

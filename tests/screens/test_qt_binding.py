"""Guards against Qt binding defects we depend on not having."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    fired = Signal(int)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="bools are immortal from Python 3.12")
def test_emitting_signals_keeps_the_reference_count_of_true() -> None:
    # PySide6 6.12.0 dropped one reference to True per emit; on Python 3.11 the app then
    # aborts with "bool_dealloc: deallocating True or False" (seen at exit of the demo).
    emitter = _Emitter()
    before = sys.getrefcount(True)
    for i in range(2000):
        emitter.fired.emit(i)
    assert sys.getrefcount(True) - before > -100

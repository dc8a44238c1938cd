"""The language of the screens, switchable at run time: English in the code, zh_CN from files.

Screens write `tr("Acknowledge")` with the English text and redraw their labels in a
`retranslate()` slot connected with `on_change`. The Chinese texts are plain TOML catalogues in
`resources/i18n/zh_CN/*.toml` (one per screen module, `"English" = "中文"`), so a
translator edits them without tools. `missing()` lists the texts looked up in zh_CN without a
translation: the test that walks every screen asserts it stays empty.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from hmi.resources import resource_path

__all__ = ["LANGUAGES", "current", "missing", "on_change", "set_language", "tr"]

log = logging.getLogger("screens.i18n")

LANGUAGES = ("en", "zh_CN")
LANGUAGE_NAMES = {"en": "English", "zh_CN": "中文"}


class _Language(QObject):
    """Holds the current language and announces a switch."""

    changed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.code = "en"
        self.catalogue: dict[str, str] | None = None
        self.missing: set[str] = set()


_state = _Language()


def _load() -> dict[str, str]:
    out: dict[str, str] = {}
    folder = resource_path("i18n", "zh_CN")
    for path in sorted(folder.glob("*.toml")):
        with path.open("rb") as f:
            for key, value in tomllib.load(f).items():
                if isinstance(value, str):
                    out[key] = value
    return out


def tr(text: str) -> str:
    """`text` (English) in the current language; English when no translation exists."""
    if _state.code == "en" or not text:
        return text
    if _state.catalogue is None:
        _state.catalogue = _load()
    found = _state.catalogue.get(text)
    if found is None:
        if text not in _state.missing:
            _state.missing.add(text)
            log.debug("no zh_CN translation for %r", text)
        return text
    return found


def current() -> str:
    """The current language code ("en" or "zh_CN")."""
    return _state.code


def set_language(code: str) -> None:
    """Switch every screen to `code` ("en" or "zh_CN")."""
    if code not in LANGUAGES:
        raise ValueError(f"unknown language {code!r} (one of {', '.join(LANGUAGES)})")
    if code != _state.code:
        _state.code = code
        _state.changed.emit(code)


def on_change(slot: Callable[[str], None]) -> None:
    """Call `slot(code)` after each switch (connect a QObject's bound method: freed with it)."""
    _state.changed.connect(slot)


def missing() -> set[str]:
    """The texts looked up in zh_CN that had no translation (since start or the last clear)."""
    return set(_state.missing)


def clear_missing() -> None:
    """Forget the texts recorded as missing."""
    _state.missing.clear()

"""Every text a person can read on a window, for the test that finds untranslated strings."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QGroupBox,
    QLabel,
    QLineEdit,
    QMenu,
    QTableView,
    QTabWidget,
    QTreeView,
    QWidget,
)

# tag names (HS1.TT101, _diag.history.queue_fill), units, product and protocol names, and
# "English" (the language box names each language in itself)
_TOKEN = re.compile(
    r"[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z0-9_.]+"  # tag and device-qualified names
    r"|\b(?:Conduit|HMI|CSV|Excel|xlsx|csv|OPC|UA|Modbus|MQTT|TCP|JSON|Sparkplug|SVG|PNG|F11|PLC|English)\b"
    r"|\b(?:kW|kWh|MW|MWh|kPa|MPa|bar|kg|Nm|mg|ms|min|°C|K|m³/h|kg/s|g/h|d|h|s|L)\b"
)
_WORD = re.compile(r"[A-Za-z]{3,}")


def readable_texts(root: QWidget) -> Iterator[tuple[str, str]]:
    """(where, text) for every visible label, button, title, tab, header, item and tooltip."""
    widgets = [root, *root.findChildren(QWidget)]
    for w in widgets:
        if not w.isVisible():
            continue
        where = f"{type(w).__name__}#{w.objectName() or '?'}"
        if w.isWindow():
            yield where + " title", w.windowTitle()
        if w.toolTip():
            yield where + " tooltip", w.toolTip()
        if isinstance(w, QLabel | QAbstractButton):
            yield where, w.text()
        elif isinstance(w, QGroupBox):
            yield where, w.title()
        elif isinstance(w, QLineEdit):
            yield where + " placeholder", w.placeholderText()
        elif isinstance(w, QComboBox):
            for i in range(w.count()):
                yield f"{where} item {i}", w.itemText(i)
        elif isinstance(w, QTabWidget):
            for i in range(w.count()):
                yield f"{where} tab {i}", w.tabText(i)
        elif isinstance(w, QMenu):
            for action in w.actions():
                yield where + " action", action.text()
        header = (
            w.horizontalHeader()
            if isinstance(w, QTableView)
            else w.header()
            if isinstance(w, QTreeView)
            else None
        )
        if header is not None and header.model() is not None and not header.isHidden():
            for col in range(header.count()):
                if header.isSectionHidden(col):
                    continue
                text = header.model().headerData(col, Qt.Orientation.Horizontal)
                if isinstance(text, str):
                    yield f"{where} header {col}", text


def untranslated(texts: Iterable[tuple[str, str]], data: Iterable[str]) -> list[tuple[str, str]]:
    """The texts that still hold English words once names, units and project data are removed.

    `data` is what the project itself says (tag descriptions, device and user names): shown as
    the engineer wrote it, not translated by the application.
    """
    # names and units out first, from the texts and the data alike, so they match each other
    known = sorted(
        {_TOKEN.sub(" ", d).strip() for d in data if len(d) >= 3} - {""}, key=len, reverse=True
    )
    out = []
    for where, text in texts:
        rest = _TOKEN.sub(" ", text)
        for d in known:
            if d in rest:
                rest = rest.replace(d, " ")
        if _WORD.search(rest):
            out.append((where, text))
    return out

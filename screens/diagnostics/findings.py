"""Data-quality findings from the system tags, and the table that lists the abnormal ones.

The core writes its findings to system tags: `_quality.TAG.frozen|spike|range` (bool),
`_check.RULE.failed` (bool), `_leak.SEGMENT.rate` (0 without a leak) with
`_leak.SEGMENT.confidence`, and `_diag.DEVICE.online` with `_diag.DEVICE.last_change`.
`FindingTracker` follows those tags through change batches and keeps the findings that are
abnormal now, each with when it began; it also counts the plant tags of bad quality.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt

from hmi.tags import Quality, TagDef, Value
from screens import theme
from screens.diagnostics.texts import clock_text, number_text
from screens.i18n import tr
from screens.widgets.table import ColumnsTableModel

__all__ = ["FINDING_COLUMNS", "Finding", "FindingTableModel", "FindingTracker"]

ModelIndex = QModelIndex | QPersistentModelIndex

FINDING_COLUMNS = ("Tag", "Finding", "Detail", "Since")
COL_SUBJECT, COL_KIND, COL_DETAIL, COL_SINCE = range(len(FINDING_COLUMNS))

SIGNAL_KINDS = ("frozen", "spike", "range")
# English names of the kinds, translated when shown
KIND_TEXT = {
    "frozen": "frozen value",
    "spike": "spike",
    "range": "out of range",
    "rule": "plausibility rule failed",
    "leak": "leak suspected",
    "offline": "device offline",
}
CONFIDENCE_TEXT = {"medium": "medium confidence", "high": "high confidence"}


@dataclass(frozen=True, slots=True)
class Finding:
    """One abnormal finding: the system tag behind it, what it concerns, what, and since when."""

    key: str  # the system tag that raised it
    subject: str  # the tag, rule, segment or device concerned
    kind: str  # frozen | spike | range | rule | leak | offline
    since: float | None
    text: str = ""  # a rule's description
    rate: float | None = None  # a leak's estimated rate
    unit: str = ""
    confidence: str = ""

    def kind_text(self) -> str:
        """What was found, in the current language."""
        return tr(KIND_TEXT[self.kind])

    def detail_text(self) -> str:
        """The detail column: a rule's description, a leak's rate and confidence."""
        if self.kind == "leak":
            rate = number_text(self.rate, 2)
            text = tr("estimated {rate} {unit}").format(rate=rate, unit=self.unit).strip()
            if self.confidence in CONFIDENCE_TEXT:
                text += ", " + tr(CONFIDENCE_TEXT[self.confidence])
            return text
        return self.text


def _stamp(value: Value) -> float | None:
    return value.source_ts if value.source_ts is not None else (value.recv_ts or None)


def _true(value: Value) -> bool:
    return value.quality is Quality.GOOD and value.value is True


class FindingTracker:
    """Follows the findings' system tags and every tag's quality through change batches."""

    def __init__(self, tags: Mapping[str, TagDef]) -> None:
        self._defs = tags
        self._devices = {
            name.removeprefix("_diag.").removesuffix(".last_change")
            for name in tags
            if name.startswith("_diag.") and name.endswith(".last_change")
        }
        self._last_change: dict[str, float] = {}
        self._confidence: dict[str, str] = {}
        self.findings: dict[str, Finding] = {}
        self.bad: set[str] = set()  # plant tags (not system tags) of bad quality

    def apply(self, changes: Mapping[str, Value]) -> bool:
        """Take a change batch in; True when the findings changed."""
        changed = False
        for name, value in changes.items():
            if not name.startswith("_"):
                if value.quality is Quality.BAD:
                    self.bad.add(name)
                else:
                    self.bad.discard(name)
                continue
            changed |= self._system(name, value)
        return changed

    def _system(self, name: str, value: Value) -> bool:
        head, _, rest = name.partition(".")
        subject, _, field = rest.rpartition(".")
        if head == "_quality" and field in SIGNAL_KINDS:
            return self._flag(name, _true(value), subject, field, since=_stamp(value))
        if head == "_check" and field == "failed":
            tag = self._defs.get(name)
            text = tag.description.removeprefix("Implausible: ") if tag else ""
            return self._flag(name, _true(value), subject, "rule", since=_stamp(value), text=text)
        if head == "_leak":
            return self._leak(subject, field, value)
        if head == "_diag" and subject in self._devices:
            return self._device(subject, field, value)
        return False

    def _flag(
        self, key: str, on: bool, subject: str, kind: str, *, since: float | None, text: str = ""
    ) -> bool:
        if not on:
            return self.findings.pop(key, None) is not None
        if key in self.findings:
            return False
        self.findings[key] = Finding(key, subject, kind, since, text=text)
        return True

    def _leak(self, segment: str, field: str, value: Value) -> bool:
        key = f"_leak.{segment}.rate"
        if field == "confidence":
            self._confidence[segment] = str(value.value or "") if value.good else ""
            old = self.findings.get(key)
            if old is None or old.confidence == self._confidence[segment]:
                return False
            self.findings[key] = replace(old, confidence=self._confidence[segment])
            return True
        if field != "rate":
            return False
        rate = value.value if value.good and isinstance(value.value, int | float) else None
        if rate is None or not math.isfinite(rate) or rate == 0:
            return self.findings.pop(key, None) is not None
        old = self.findings.get(key)
        tag = self._defs.get(key)
        self.findings[key] = Finding(
            key,
            segment,
            "leak",
            old.since if old is not None else _stamp(value),
            rate=float(rate),
            unit=tag.unit if tag else "",
            confidence=self._confidence.get(segment, ""),
        )
        return True

    def _device(self, device: str, field: str, value: Value) -> bool:
        key = f"_diag.{device}.online"
        if field == "last_change":
            if not value.good or not isinstance(value.value, int | float):
                return False
            self._last_change[device] = float(value.value)
            old = self.findings.get(key)  # the online flag may come first in a batch
            if old is None or old.since == self._last_change[device]:
                return False
            self.findings[key] = replace(old, since=self._last_change[device])
            return True
        if field != "online":
            return False
        offline = value.quality is Quality.GOOD and value.value is False
        since = self._last_change.get(device) or _stamp(value)
        return self._flag(key, offline, device, "offline", since=since)


class FindingTableModel(ColumnsTableModel):
    """The abnormal findings, newest first."""

    COLUMNS = FINDING_COLUMNS

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[Finding] = []

    def row_count(self) -> int:
        """Number of rows shown."""
        return len(self._rows)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Cell texts; an offline device in the alarm colour."""
        if not index.isValid():
            return None
        finding, col = self._rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == COL_SUBJECT:
                return finding.subject
            if col == COL_KIND:
                return finding.kind_text()
            if col == COL_DETAIL:
                return finding.detail_text()
            return clock_text(finding.since)
        if role == Qt.ItemDataRole.ToolTipRole and col == COL_SUBJECT:
            return finding.key
        if finding.kind == "offline" and col == COL_KIND:
            if role == Qt.ItemDataRole.BackgroundRole:
                return theme.FAULT
            if role == Qt.ItemDataRole.ForegroundRole:
                return theme.QUALITY_BAD_TEXT
        return None

    def show(self, findings: Mapping[str, Finding]) -> None:
        """Show these findings (newest first)."""
        rows = sorted(findings.values(), key=lambda f: (-(f.since or 0.0), f.subject, f.kind))
        if [f.key for f in rows] == [f.key for f in self._rows]:
            self._rows = rows
            if rows:
                self.dataChanged.emit(
                    self.index(0, 0), self.index(len(rows) - 1, len(FINDING_COLUMNS) - 1)
                )
            return
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def findings(self) -> list[Finding]:
        """The findings shown, in row order."""
        return list(self._rows)

    def retranslate(self) -> None:
        """Redraw the headers and texts in the current language."""
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(FINDING_COLUMNS) - 1)
        if self._rows:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._rows) - 1, len(FINDING_COLUMNS) - 1)
            )

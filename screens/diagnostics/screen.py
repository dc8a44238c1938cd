"""The diagnostics screen: device links, data-quality findings, historian, publisher, database.

Tag-borne state (findings, service counters, bad quality) comes from the refresher's change
batches through `apply`; the shell subscribes it. The device table reads `link_stats()` (cheap,
but not worth every tick) at most once a second, riding on those batches while the screen is
visible (a batch within the second defers one read to its end: the link tags change whenever
the links do, so the batches are a faithful trigger). A hidden screen skips the batches and
catches up from a snapshot when shown again.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from hmi.tags import Value
from screens import i18n
from screens.context import AppContext
from screens.diagnostics.devices import DeviceTableModel, device_infos
from screens.diagnostics.findings import FindingTableModel, FindingTracker
from screens.diagnostics.services import ServicesPanel
from screens.i18n import tr

__all__ = ["LINK_PERIOD", "DiagnosticsScreen"]

LINK_PERIOD = 1.0  # seconds between link statistics reads, at most


def _table(model: DeviceTableModel | FindingTableModel, parent: QWidget) -> QTableView:
    view = QTableView(parent)
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.verticalHeader().setVisible(False)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    view.horizontalHeader().setStretchLastSection(True)
    return view


class DiagnosticsScreen(QWidget):
    """Devices, data-quality findings and the HMI's own services, for engineers and operators."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("diagnosticsScreen")
        self._context = context
        tags = context.client.tag_defs()
        self._tracker = FindingTracker(tags)
        self._plant_tags = sum(1 for name in tags if not name.startswith("_"))
        self._links_read = -float("inf")  # monotonic time of the last link_stats()
        self._links_pending = False  # a read is scheduled for the end of the period
        self._stale = True  # the tag state must be rebuilt from a snapshot before it is shown

        self.devices = DeviceTableModel(device_infos(tags), self)
        self.findings = FindingTableModel(self)
        self.services = ServicesPanel(tags, self)

        self.devices_title = QLabel(self)
        self.devices_title.setObjectName("sectionTitle")
        self.device_table = _table(self.devices, self)
        self.findings_title = QLabel(self)
        self.findings_title.setObjectName("sectionTitle")
        self.summary = QLabel(self)
        self.summary.setObjectName("summary")
        self.finding_table = _table(self.findings, self)
        self.services_title = QLabel(self)
        self.services_title.setObjectName("sectionTitle")

        top, middle = QWidget(self), QWidget(self)
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.devices_title)
        top_layout.addWidget(self.device_table)
        middle_layout = QVBoxLayout(middle)
        middle_layout.setContentsMargins(0, 0, 0, 0)
        middle_layout.addWidget(self.findings_title)
        middle_layout.addWidget(self.summary)
        middle_layout.addWidget(self.finding_table)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(top)
        split.addWidget(middle)
        layout = QVBoxLayout(self)
        layout.addWidget(split, 1)
        layout.addWidget(self.services_title)
        layout.addWidget(self.services)

        i18n.on_change(self.retranslate)
        self.retranslate()

    # ---- data ---------------------------------------------------------------------------------

    def apply(self, changes: Mapping[str, Value]) -> None:
        """Take a refresher batch in (skipped while hidden: caught up when shown)."""
        if not self.isVisible():
            self._stale = True
            return
        if self._stale:
            self._catch_up()
        else:
            self._take(changes)
        self._links_soon()

    def _links_soon(self) -> None:
        """Read the links now, or once the period since the last read is over."""
        wait = LINK_PERIOD - (time.monotonic() - self._links_read)
        if wait <= 0:
            self.refresh_links()
        elif not self._links_pending:
            self._links_pending = True
            QTimer.singleShot(int(wait * 1000) + 1, self, self._links_due)

    def _links_due(self) -> None:
        self._links_pending = False
        if self.isVisible():
            self.refresh_links()

    def refresh_links(self) -> None:
        """Read the link statistics now and show them."""
        self._links_read = time.monotonic()
        self.devices.update(self._context.client.link_stats())

    def _catch_up(self) -> None:
        _, values = self._context.client.snapshot()
        self._stale = False
        self._tracker = FindingTracker(self._context.client.tag_defs())
        self._take(values)

    def _take(self, changes: Mapping[str, Value]) -> None:
        if self._tracker.apply(changes):
            self.findings.show(self._tracker.findings)
        self.services.apply(changes)
        self._summarise()

    def _summarise(self) -> None:
        n = len(self._tracker.findings)
        bad = len(self._tracker.bad)
        self.summary.setText(
            tr("{n} findings · {bad} of {total} tags of bad quality").format(
                n=n, bad=bad, total=self._plant_tags
            )
        )

    @property
    def bad_count(self) -> int:
        """How many plant tags are of bad quality now."""
        return len(self._tracker.bad)

    def showEvent(self, event: QShowEvent) -> None:
        """Catch up on what changed while hidden."""
        super().showEvent(event)
        if self._stale:
            self._catch_up()
        self.refresh_links()

    # ---- language -----------------------------------------------------------------------------

    def retranslate(self, _code: str = "") -> None:
        """Redraw every text in the current language."""
        self.setWindowTitle(tr("Diagnostics"))
        self.devices_title.setText(tr("Devices"))
        self.findings_title.setText(tr("Data-quality findings"))
        self.services_title.setText(tr("Historian, publisher and database"))
        self.devices.retranslate()
        self.findings.retranslate()
        self.services.retranslate()
        self._summarise()

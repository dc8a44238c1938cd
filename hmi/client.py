"""RuntimeClient: the one door through which screens reach a station.

Screens never touch the runtime, drivers or storage directly. They pull coalesced batches of
changed tags (`changes_since`) at their refresh rate, and every call that may wait on I/O
returns a future. The in-process client wraps an embedded `Station`; a remote client (runtime
headless at the station, several seats over a broker) will implement the same protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from drivers.base import LinkStats
from hmi.station import Station
from hmi.tags import TagDef, Value

__all__ = ["InProcessClient", "LinkStats", "RuntimeClient", "connect"]


class RuntimeClient(Protocol):
    """What a screen may ask of a station."""

    @property
    def project_name(self) -> str:
        """The project's display name."""
        ...

    def tag_defs(self) -> Mapping[str, TagDef]:
        """Every tag's definition, including diagnostics tags, in project order."""
        ...

    def snapshot(self) -> tuple[int, dict[str, Value]]:
        """The current version and every tag's value."""
        ...

    def changes_since(self, version: int) -> tuple[int, dict[str, Value]]:
        """The current version and the tags changed after `version`."""
        ...

    def link_stats(self) -> dict[str, LinkStats]:
        """Link statistics per device."""
        ...

    def close(self) -> None:
        """Release the connection (an embedded station is stopped)."""
        ...


class InProcessClient:
    """RuntimeClient over a station embedded in this process."""

    def __init__(self, station: Station) -> None:
        self.station = station  # the embedded station, for tools and tests (never for screens)
        self._runtime = station.runtime

    @property
    def project_name(self) -> str:
        """The project's display name."""
        return self.station.project.name

    def tag_defs(self) -> Mapping[str, TagDef]:
        """Every tag's definition, including diagnostics tags, in project order."""
        return self._runtime.tags

    def snapshot(self) -> tuple[int, dict[str, Value]]:
        """The current version and every tag's value."""
        return self._runtime.store.snapshot()

    def changes_since(self, version: int) -> tuple[int, dict[str, Value]]:
        """The current version and the tags changed after `version`."""
        return self._runtime.store.changes_since(version)

    def link_stats(self) -> dict[str, LinkStats]:
        """Link statistics per device."""
        return self._runtime.link_stats()

    def close(self) -> None:
        """Stop the embedded station."""
        self.station.stop()


def connect(project: str | Path, *, simulate: bool = False) -> InProcessClient:
    """Open a project, start its station in this process and return a client for it."""
    station = Station.open(project, simulate=simulate)
    station.start()
    return InProcessClient(station)

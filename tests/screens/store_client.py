"""A RuntimeClient's reading doors over a bare TagStore: screens under test (and the screens
benchmark) see exactly what a test writes into it, without a station."""

from __future__ import annotations

import time
from collections.abc import Mapping

from hmi.client import AlarmView, LinkStats
from hmi.tags import Quality, Reason, TagDef, Value
from hmi.tagstore import TagStore


class StoreClient:
    """Tags from a real TagStore; no devices, no alarms (subclasses add what a test needs)."""

    project_name = "test"

    def __init__(self, tags: Mapping[str, TagDef]) -> None:
        self.tags = tags
        self.store = TagStore(tags)

    def tag_defs(self) -> Mapping[str, TagDef]:
        return self.tags

    def snapshot(self) -> tuple[int, dict[str, Value]]:
        return self.store.snapshot()

    def changes_since(self, version: int) -> tuple[int, dict[str, Value]]:
        return self.store.changes_since(version)

    def link_stats(self) -> dict[str, LinkStats]:
        return {}

    def active_alarms(self) -> list[AlarmView]:
        return []

    def alarm_changes_since(self, version: int) -> tuple[int, list[AlarmView]]:
        return version, []

    def close(self) -> None:
        pass

    def set(self, name: str, value: object, quality: Quality = Quality.GOOD) -> None:
        """Write one value stamped now (bad: comm_failure, uncertain: stale)."""
        reason = {Quality.GOOD: Reason.NONE, Quality.UNCERTAIN: Reason.STALE}.get(
            quality, Reason.COMM_FAILURE
        )
        now = time.time()
        self.store.update([(name, Value(value, quality, reason, now, now))])

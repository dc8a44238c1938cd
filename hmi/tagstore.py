"""TagStore: the current value of every tag, with a change version clients pull from.

Written only from the runtime thread, read from any thread (the UI pulls "changes since v"
at its refresh rate). A change moves the tag to the end of an ordered index, so
`changes_since` costs the number of changes, not the number of tags.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from hmi.tags import Value


class TagStore:
    """Current values of all tags and a monotonically increasing change version."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, Value] = {}
        self._versions: OrderedDict[str, int] = OrderedDict()
        self._version = 0
        self.add(names)

    def add(self, names: Iterable[str]) -> None:
        """Add tags with their initial (bad, no value yet) value."""
        initial = Value.initial()
        with self._lock:
            for name in names:
                if name not in self._values:
                    self._version += 1
                    self._values[name] = initial
                    self._versions[name] = self._version

    @property
    def version(self) -> int:
        """The version of the newest change."""
        return self._version

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def __len__(self) -> int:
        return len(self._values)

    def get(self, name: str) -> Value:
        """The current value of one tag; KeyError for an unknown tag."""
        return self._values[name]

    def names(self) -> list[str]:
        """Every tag name, in the order the tags were added."""
        with self._lock:
            return list(self._values)

    def update(self, changes: Iterable[tuple[str, Value]]) -> int:
        """Store changed values as one new version; returns that version."""
        with self._lock:
            applied = False
            for name, value in changes:
                if name not in self._values:
                    continue
                if not applied:
                    self._version += 1
                    applied = True
                self._values[name] = value
                self._versions[name] = self._version
                self._versions.move_to_end(name)
            return self._version

    def changes_since(self, version: int) -> tuple[int, dict[str, Value]]:
        """The current version and every tag whose value changed after `version`."""
        with self._lock:
            changed: dict[str, Value] = {}
            for name, v in reversed(self._versions.items()):
                if v <= version:
                    break
                changed[name] = self._values[name]
            return self._version, changed

    def snapshot(self) -> tuple[int, dict[str, Value]]:
        """The current version and the value of every tag."""
        with self._lock:
            return self._version, dict(self._values)

"""The set of faults active on one simulated plant: add, replace, remove, list, listen.

Shared by the heating plant and the gas gate station; each plant subclasses it with its own
fault kinds, a `validate` check and a `_refresh` that derives what its model reads quickly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, Protocol, TypeVar


class Keyed(Protocol):
    """A fault: anything with a `key` naming what it acts on."""

    @property
    def key(self) -> str:
        """Identity in the active set (a new fault with the same key replaces the old)."""
        ...


T = TypeVar("T", bound=Keyed)
F = TypeVar("F", bound=Keyed)


class FaultSet(Generic[T]):
    """Active faults by key, in the order they were added, with change listeners."""

    def __init__(self) -> None:
        self._active: dict[str, T] = {}
        self._listeners: list[Callable[[], None]] = []

    def validate(self, fault: T) -> None:
        """Raise ValueError for a fault this plant cannot have (none by default)."""

    def add(self, fault: F) -> F:
        """Activate `fault` (replacing an active fault with the same key); return it."""
        self.validate(fault)  # type: ignore[arg-type]
        self._active[fault.key] = fault  # type: ignore[assignment]
        self._changed()
        return fault

    def remove(self, fault: T | str) -> bool:
        """Deactivate a fault given itself or its key; False when it was not active."""
        key = fault if isinstance(fault, str) else fault.key
        found = self._active.pop(key, None) is not None
        if found:
            self._changed()
        return found

    def clear(self) -> None:
        """Deactivate every fault."""
        if self._active:
            self._active.clear()
            self._changed()

    @property
    def active(self) -> tuple[T, ...]:
        """The active faults, in the order they were added."""
        return tuple(self._active.values())

    def get(self, key: str) -> T | None:
        """The active fault with `key`, if any."""
        return self._active.get(key)

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` after every change; returns a function that unsubscribes it."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback)

    def _refresh(self) -> None:
        """Recompute what the model reads from the active faults (none by default)."""

    def _changed(self) -> None:
        self._refresh()
        for callback in list(self._listeners):
            callback()

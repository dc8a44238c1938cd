"""The history writer's queue: change batches kept as columns, bounded, oldest dropped first.

Columns (names, timestamps, values, qualities as plain lists) cost a third of the time and
memory of a tuple per row, and become numpy arrays in one C call each when written.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["ColumnQueue", "Columns"]


@dataclass(slots=True)
class Columns:
    """One batch of rows: tag name, epoch seconds, value (NaN = none), quality."""

    names: list[str] = field(default_factory=list)
    ts: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    qualities: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.names)

    def drop_oldest(self, n: int) -> None:
        """Forget the first `n` rows."""
        del self.names[:n], self.ts[:n], self.values[:n], self.qualities[:n]


class ColumnQueue:
    """A FIFO of Columns holding at most `max_rows` rows; when full the oldest rows go."""

    def __init__(self, max_rows: int) -> None:
        self.max_rows = max_rows
        self._chunks: deque[Columns] = deque()
        self._rows = 0

    def __len__(self) -> int:
        return self._rows

    def put(self, chunk: Columns) -> int:
        """Add `chunk` at the end; rows dropped from the front to stay within the bound."""
        self._chunks.append(chunk)
        self._rows += len(chunk)
        return self._trim()

    def put_back(self, chunks: Iterable[Columns]) -> int:
        """Return taken chunks to the front (a failed write); rows dropped from the front."""
        for chunk in reversed(list(chunks)):
            self._chunks.appendleft(chunk)
            self._rows += len(chunk)
        return self._trim()

    def take(self) -> list[Columns]:
        """Everything queued, oldest first; the queue is empty afterwards."""
        chunks, self._chunks, self._rows = list(self._chunks), deque(), 0
        return chunks

    def _trim(self) -> int:
        excess = self._rows - self.max_rows
        dropped = 0
        while excess > 0:
            first = self._chunks[0]
            if len(first) <= excess:
                self._chunks.popleft()
                n = len(first)
            else:
                first.drop_oldest(excess)
                n = excess
            excess -= n
            dropped += n
        self._rows -= dropped
        return dropped

"""Tags dragged between screens (from the tag browser onto a trend): one mime type, both ends."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QMimeData

__all__ = ["TAG_MIME", "tag_mime", "tag_names"]

TAG_MIME = "application/x-conduit-tags"


def tag_mime(names: Iterable[str]) -> QMimeData:
    """A drag of tag names (our own type, and plain text for other applications)."""
    text = "\n".join(names)
    mime = QMimeData()
    mime.setData(TAG_MIME, text.encode("utf-8"))
    mime.setText(text)
    return mime


def tag_names(mime: QMimeData) -> list[str]:
    """The tag names a drag carries (our own type first, else plain text), one per line."""
    if mime.hasFormat(TAG_MIME):
        text = bytes(mime.data(TAG_MIME).data()).decode("utf-8", errors="replace")
    elif mime.hasText():
        text = mime.text()
    else:
        return []
    return [line.strip() for line in text.splitlines() if line.strip()]

"""What the core needs of the audit trail: one `record` call that raises when it cannot write.

A protocol here, below the packages that record (alarms, security, commands) and the one that
stores (`hmi.audit.AuditTrail`, which has exactly this method), so none of them imports another.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["AuditSink"]


class AuditSink(Protocol):
    """Somewhere to record who did what; `record` raises when it was not written."""

    def record(
        self,
        *,
        user: str,
        action: str,
        target: str = "",
        old: str = "",
        new: str = "",
        reason: str = "",
        result: str = "ok",
        host: str | None = None,
    ) -> object:
        """Append one record; raise when it was not written."""
        ...

"""What the security layer needs of the audit trail: one `record` call that raises on failure.

Defined here, not imported from `hmi.audit` (the layer contract keeps the two apart); the
station passes `hmi.audit.AuditTrail`, which has exactly this method.
"""

from __future__ import annotations

from typing import Protocol

from hmi.security.errors import AuditUnavailable

__all__ = ["AuditSink", "record"]


class AuditSink(Protocol):
    """Somewhere to record who did what; `record` raises when it cannot write."""

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


def record(
    audit: AuditSink,
    host: str | None,
    user: str,
    action: str,
    *,
    target: str = "",
    old: str = "",
    new: str = "",
    reason: str = "",
    result: str = "ok",
) -> None:
    """Write one record through `audit`; AuditUnavailable (the action is refused) on failure."""
    try:
        audit.record(
            user=user,
            action=action,
            target=target,
            old=old,
            new=new,
            reason=reason,
            result=result,
            host=host,
        )
    except Exception as exc:
        raise AuditUnavailable(
            f"the audit trail could not record {action} of {target or user!r} ({exc}); "
            "the action was refused"
        ) from exc

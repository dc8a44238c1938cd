"""Recording through the audit trail from the security layer: a failure refuses the action.

`AuditSink` (hmi.audit_sink) is the protocol; the station passes `hmi.audit.AuditTrail`.
"""

from __future__ import annotations

from hmi.audit_sink import AuditSink
from hmi.security.errors import AuditUnavailable

__all__ = ["AuditSink", "record"]


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

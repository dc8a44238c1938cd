"""Reading the audit trail: records by time range, user, action and target, in seq order.

Records are ordered by `seq`, the order they were appended in, not by `ts`: seats' clocks may
differ a little, the chain's order does not. Reading never changes anything.
"""

from __future__ import annotations

from sqlalchemy import Engine, exc, inspect, select

from hmi.audit.schema import AuditError, AuditRecord, audit_trail, record_from_row
from hmi.audit.trail import db_reason

__all__ = ["query_audit"]

_C = audit_trail.c


def query_audit(
    engine: Engine,
    start: float | None = None,
    end: float | None = None,
    *,
    user: str | None = None,
    action: str | None = None,
    target: str | None = None,
    newest_first: bool = False,
    limit: int = 10_000,
) -> list[AuditRecord]:
    """Records with start <= ts < end matching every filter given, oldest (or newest) first.

    `action` matches exactly, or as a prefix when it ends with "." or "*" ("command.",
    "login*"); `user` and `target` match exactly.
    """
    stmt = select(audit_trail).order_by(_C.seq.desc() if newest_first else _C.seq).limit(limit)
    if start is not None:
        stmt = stmt.where(_C.ts_us >= round(start * 1_000_000))
    if end is not None:
        stmt = stmt.where(_C.ts_us < round(end * 1_000_000))
    if user is not None:
        stmt = stmt.where(_C.user == user)
    if action is not None:
        if action.endswith(("*", ".")):
            stmt = stmt.where(_C.action.startswith(action.rstrip("*"), autoescape=True))
        else:
            stmt = stmt.where(_C.action == action)
    if target is not None:
        stmt = stmt.where(_C.target == target)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(audit_trail.name):
                return []
            return [record_from_row(r) for r in conn.execute(stmt).mappings()]
    except exc.SQLAlchemyError as error:
        raise AuditError(f"audit trail not readable: {db_reason(error)}") from None

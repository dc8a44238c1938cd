"""The audit trail: append-only, hash-chained records of who did what.

`AuditTrail.record` stores one record before it returns (a failure raises `AuditError`, which
refuses the action recorded); `verify` finds edited, deleted, reordered and forged records;
`query_audit` reads them back. See docs/audit.md.
"""

from hmi.audit.query import query_audit
from hmi.audit.schema import GENESIS, AuditError, AuditRecord, chain_hash
from hmi.audit.trail import AuditTrail
from hmi.audit.verify import Problem, VerifyReport, verify

__all__ = [
    "GENESIS",
    "AuditError",
    "AuditRecord",
    "AuditTrail",
    "Problem",
    "VerifyReport",
    "chain_hash",
    "query_audit",
    "verify",
]

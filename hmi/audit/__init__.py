"""The audit trail: append-only, hash-chained records of who did what.

`AuditTrail.record` stores one record before it returns (a failure raises `AuditError`, which
refuses the action recorded); `verify` finds edited, deleted, reordered and forged records;
`query_audit` reads them back. See docs/audit.md.
"""

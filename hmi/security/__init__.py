"""Users, roles and permissions, password authentication and sessions.

`permissions` names what may be done; `store` keeps users, roles and grants per area;
`passwords` and `policy` hash and judge passwords; `auth` logs people in and hands out the
`Session` the alarm engine and the command service check. Everything is audited through an
`AuditSink` passed in (see `audit_sink`); this package never imports `hmi.audit`.
"""

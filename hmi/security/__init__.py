"""Users, roles and permissions, password authentication and sessions.

`permissions` names what may be done; `store` keeps users, roles and grants per area;
`passwords` and `policy` hash and judge passwords; `auth` logs people in and hands out the
`Session` the alarm engine and the command service check. Everything is audited through an
`AuditSink` passed in (see `audit_sink`); this package never imports `hmi.audit`.
"""

from hmi.security.audit_sink import AuditSink
from hmi.security.auth import Authenticator, Session
from hmi.security.errors import (
    AccountDisabled,
    AccountLocked,
    AuditUnavailable,
    AuthError,
    PasswordRefused,
    SecurityError,
    UserError,
)
from hmi.security.passwords import DEFAULT_PARAMS, ScryptParams
from hmi.security.permissions import DEFAULT_ROLES, RoleGrant, parse_grants
from hmi.security.policy import PasswordPolicy
from hmi.security.store import UserInfo, UserStore

__all__ = [
    "DEFAULT_PARAMS",
    "DEFAULT_ROLES",
    "AccountDisabled",
    "AccountLocked",
    "AuditSink",
    "AuditUnavailable",
    "AuthError",
    "Authenticator",
    "PasswordPolicy",
    "PasswordRefused",
    "RoleGrant",
    "ScryptParams",
    "SecurityError",
    "Session",
    "UserError",
    "UserInfo",
    "UserStore",
    "parse_grants",
]

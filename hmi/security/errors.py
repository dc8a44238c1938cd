"""The security layer's exceptions: each message says what happened, never a password."""

from __future__ import annotations

from datetime import datetime

__all__ = [
    "AccountDisabled",
    "AccountLocked",
    "AuditUnavailable",
    "AuthError",
    "PasswordRefused",
    "PermissionRefused",
    "SecurityError",
    "UserError",
]


class SecurityError(Exception):
    """Base of the security layer's refusals."""


class AuthError(SecurityError):
    """Login refused: the same message for an unknown user and a wrong password."""

    def __init__(self, message: str = "wrong user name or password") -> None:
        super().__init__(message)


class AccountLocked(AuthError):
    """Too many failed logins: the account is locked until `until` (epoch seconds)."""

    def __init__(self, name: str, until: float) -> None:
        stamp = datetime.fromtimestamp(until).astimezone().isoformat(timespec="seconds")
        super().__init__(f"account {name!r} is locked after too many failed logins until {stamp}")
        self.name = name
        self.until = until


class AccountDisabled(AuthError):
    """The account was disabled by an administrator."""

    def __init__(self, name: str) -> None:
        super().__init__(f"account {name!r} is disabled; ask an administrator")
        self.name = name


class PasswordRefused(SecurityError):
    """The new password does not meet the password policy; the message says which rule."""


class UserError(SecurityError):
    """A user or role change that does not fit the store (unknown user, duplicate name...)."""


class AuditUnavailable(SecurityError):
    """The audit trail could not record the action, so the action was refused."""


class PermissionRefused(SecurityError):
    """The person does not hold the permission the request needs; nothing was changed."""

"""User administration and audit reading for a logged-in person: permission checked here.

The screens offer these only to people who hold `manage_users`; the check below is what
enforces it (a button greyed out is a courtesy, not a control).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine

from hmi.audit.query import query_audit
from hmi.audit.schema import AuditRecord
from hmi.audit.verify import VerifyReport, verify
from hmi.security.auth import Session
from hmi.security.errors import PermissionRefused
from hmi.security.permissions import ANY_AREA, MANAGE_USERS, RoleGrant
from hmi.security.store import UserStore
from hmi.security.user_info import UserInfo

__all__ = ["UserAdmin"]


class UserAdmin:
    """Users, roles and the audit trail, for sessions that may manage users in every area."""

    def __init__(self, store: UserStore, audit_engine: Engine) -> None:
        self.store = store
        self.audit_engine = audit_engine

    @staticmethod
    def _check(who: Session) -> None:
        if not who.may(MANAGE_USERS, ANY_AREA):
            raise PermissionRefused(f"{who.name} may not manage users")

    def users(self, who: Session) -> list[UserInfo]:
        """Every user, by name."""
        self._check(who)
        return self.store.list_users()

    def roles(self, who: Session) -> dict[str, frozenset[str]]:
        """Every role and its permissions."""
        self._check(who)
        return self.store.roles()

    def add_user(
        self,
        who: Session,
        name: str,
        password: str,
        grants: Iterable[RoleGrant],
        full_name: str = "",
    ) -> UserInfo:
        """Create a user (password checked by the policy, stored hashed)."""
        self._check(who)
        return self.store.add_user(name, password, grants, by=who.name, full_name=full_name)

    def set_roles(self, who: Session, name: str, grants: Iterable[RoleGrant]) -> None:
        """Replace a user's role grants."""
        self._check(who)
        self.store.set_roles(name, grants, by=who.name)

    def set_disabled(self, who: Session, name: str, disabled: bool, reason: str = "") -> None:
        """Disable or enable a user."""
        self._check(who)
        if disabled:
            self.store.disable(name, by=who.name, reason=reason)
        else:
            self.store.enable(name, by=who.name, reason=reason)

    def reset_password(self, who: Session, name: str, password: str) -> None:
        """Set a new password for a user."""
        self._check(who)
        self.store.reset_password(name, password, by=who.name)

    def audit(self, who: Session, **filters: Any) -> list[AuditRecord]:
        """Audit records matching `query_audit`'s filters."""
        self._check(who)
        return query_audit(self.audit_engine, **filters)

    def verify_audit(self, who: Session) -> VerifyReport:
        """Check the audit trail's hash chain from the first record to the last."""
        self._check(who)
        return verify(self.audit_engine)

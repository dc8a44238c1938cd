"""A user as the administration screens and `conduit users` list it (no SQLAlchemy here: the
operator application needs the type before the user store is open)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hmi.security.permissions import RoleGrant


@dataclass(frozen=True, slots=True)
class UserInfo:
    """A user as listed: no password hash."""

    name: str
    full_name: str
    disabled: bool
    created: float
    password_changed: float
    failed_count: int
    locked_until: float | None
    grants: tuple[RoleGrant, ...]

    def to_row(self) -> dict[str, Any]:
        """A plain, JSON-ready row (grants as 'role' or 'role:AREA')."""
        return {
            "name": self.name,
            "full_name": self.full_name,
            "disabled": self.disabled,
            "created": self.created,
            "password_changed": self.password_changed,
            "failed_count": self.failed_count,
            "locked_until": self.locked_until,
            "roles": [str(g) for g in self.grants],
        }

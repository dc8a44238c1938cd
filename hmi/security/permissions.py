"""The permission vocabulary, the default roles, and role grants limited to areas.

Permissions are plain strings, so the alarm engine and the command service can name them
without importing this package (the alarm engine's "acknowledge", "shelve" and "edit_limits"
are the same strings). Which role holds which permission is data in the store
(`role_permissions`), seeded from `DEFAULT_ROLES` on first use and editable afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "ACKNOWLEDGE",
    "ALL_PERMISSIONS",
    "ANY_AREA",
    "APPROVE_COMMANDS",
    "DEFAULT_ROLES",
    "EDIT_LIMITS",
    "EDIT_SCREENS",
    "EXPORT_REPORTS",
    "MANAGE_USERS",
    "OPERATE",
    "SHELVE",
    "VIEW",
    "RoleGrant",
    "format_grants",
    "parse_grants",
]

VIEW = "view"
OPERATE = "operate"  # write to the plant: valves, pumps, setpoints
ACKNOWLEDGE = "acknowledge"
SHELVE = "shelve"  # also unshelve, out of service and back
EDIT_SCREENS = "edit_screens"
EDIT_LIMITS = "edit_limits"
EXPORT_REPORTS = "export_reports"
MANAGE_USERS = "manage_users"
APPROVE_COMMANDS = "approve_commands"  # the second person of a two-person command

ALL_PERMISSIONS: frozenset[str] = frozenset(
    {
        VIEW,
        OPERATE,
        ACKNOWLEDGE,
        SHELVE,
        EDIT_SCREENS,
        EDIT_LIMITS,
        EXPORT_REPORTS,
        MANAGE_USERS,
        APPROVE_COMMANDS,
    }
)

ANY_AREA = "*"  # a grant for every area

_OPERATOR = frozenset({VIEW, OPERATE, ACKNOWLEDGE, SHELVE})

DEFAULT_ROLES: Mapping[str, frozenset[str]] = {
    "viewer": frozenset({VIEW}),
    "operator": _OPERATOR,
    "engineer": _OPERATOR | {EDIT_SCREENS, EDIT_LIMITS, EXPORT_REPORTS},
    "supervisor": _OPERATOR | {EXPORT_REPORTS, APPROVE_COMMANDS},
    "administrator": ALL_PERMISSIONS,
}


@dataclass(frozen=True, slots=True, order=True)
class RoleGrant:
    """A role held by a user in one area, or in every area (`ANY_AREA`)."""

    role: str
    area: str = ANY_AREA

    def __str__(self) -> str:
        return self.role if self.area == ANY_AREA else f"{self.role}:{self.area}"


def parse_grants(text: str) -> list[RoleGrant]:
    """Grants from 'operator' (every area) or 'operator:SS1,SS2' (those areas only)."""
    role, sep, areas = text.strip().partition(":")
    role = role.strip()
    if not role:
        raise ValueError(f"no role in {text!r} (expected ROLE or ROLE:AREA,AREA)")
    if not sep:
        return [RoleGrant(role)]
    names = [a.strip() for a in areas.split(",")]
    if not all(names):
        raise ValueError(f"an empty area in {text!r} (expected ROLE:AREA,AREA)")
    return [RoleGrant(role, a) for a in dict.fromkeys(names)]


def format_grants(grants: list[RoleGrant] | tuple[RoleGrant, ...]) -> str:
    """Grants as text, one role per item: 'operator:SS1,SS2 supervisor' (sorted)."""
    by_role: dict[str, list[str]] = {}
    for g in sorted(grants):
        by_role.setdefault(g.role, []).append(g.area)
    parts = []
    for role, areas in by_role.items():
        parts.append(role if ANY_AREA in areas else f"{role}:{','.join(areas)}")
    return " ".join(parts)

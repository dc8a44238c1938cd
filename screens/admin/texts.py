"""What the administration screen says: refusals from the core, role names, times.

The core's refusals are English sentences meant for a person (`PasswordRefused` names the
rule, `UserError` the conflict). The known ones are matched here and said again through
`tr()`, so a Chinese screen shows them in Chinese; an unknown one is shown as the core wrote it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from hmi.security.errors import (
    AuditUnavailable,
    PasswordRefused,
    PermissionRefused,
    SecurityError,
    UserError,
)
from hmi.security.permissions import ANY_AREA, RoleGrant
from screens.i18n import tr

__all__ = ["ROLE_NAMES", "grants_text", "refusal_text", "role_text", "time_text"]

# the default roles by their English names (a site's own roles are shown as named)
ROLE_NAMES = {
    "viewer": "viewer",
    "operator": "operator",
    "engineer": "engineer",
    "supervisor": "supervisor",
    "administrator": "administrator",
}

_Say = Callable[[re.Match[str]], str]
# (pattern of the core's message, the message said again) for each known refusal
_KNOWN: tuple[tuple[re.Pattern[str], _Say], ...] = tuple(
    (re.compile(pattern), say)
    for pattern, say in (
        (
            r"the password must be at least (\d+) characters long",
            lambda m: tr("The password must be at least {n} characters long.").format(n=m[1]),
        ),
        (
            r"the password must be at most (\d+) characters",
            lambda m: tr("The password must be at most {n} characters long.").format(n=m[1]),
        ),
        (
            r"the password must not start or end with a space",
            lambda m: tr("The password must not start or end with a space."),
        ),
        (
            r"the password must not contain the user name",
            lambda m: tr("The password must not contain the user name."),
        ),
        (
            r"the password must mix at least (\d+) kinds of characters",
            lambda m: tr(
                "The password must mix at least {n} kinds of characters "
                "(lower case, upper case, digits, others)."
            ).format(n=m[1]),
        ),
        (
            r"the password must differ from the last (\d+) passwords",
            lambda m: tr("The password must differ from the last {n} passwords.").format(n=m[1]),
        ),
        (
            r"bad user name",
            lambda m: tr("A user name is 1 to 100 letters, digits or _ . @ - (no spaces)."),
        ),
        (
            r"user '(.+)' already exists",
            lambda m: tr("User {name} already exists.").format(name=m[1]),
        ),
        (r"no user '(.+)'", lambda m: tr("There is no user {name}.").format(name=m[1])),
        (r"no role '(.+?)'", lambda m: tr("There is no role {name}.").format(name=m[1])),
        (
            r"a user needs at least one role",
            lambda m: tr("A user needs at least one role."),
        ),
        (
            r"no enabled user would be left who may manage users everywhere",
            lambda m: tr(
                "Refused: no enabled user would be left who may manage users in every area."
            ),
        ),
    )
)


def refusal_text(error: BaseException) -> str:
    """A refusal from the core as a sentence in the current language."""
    if isinstance(error, PermissionRefused):
        return tr("You need the manage_users permission.")
    if isinstance(error, AuditUnavailable):
        return tr("The audit trail could not record the change, so it was not made.")
    message = str(error)
    if isinstance(error, PasswordRefused | UserError):
        for pattern, say in _KNOWN:
            found = pattern.search(message)
            if found is not None:
                return say(found)
    if isinstance(error, SecurityError | ValueError):
        return tr("Refused: {reason}").format(reason=message)
    return tr("The request failed: {reason}").format(reason=message)


def role_text(role: str) -> str:
    """A role's name in the current language (a site's own roles as they are named)."""
    english = ROLE_NAMES.get(role)
    return tr(english) if english is not None else role


def grants_text(grants: tuple[RoleGrant, ...] | list[RoleGrant]) -> str:
    """Grants as a person reads them: 'operator (SS1, SS2), viewer'."""
    by_role: dict[str, list[str]] = {}
    for grant in sorted(grants):
        by_role.setdefault(grant.role, []).append(grant.area)
    parts = []
    for role, areas in by_role.items():
        name = role_text(role)
        parts.append(name if ANY_AREA in areas else f"{name} ({', '.join(areas)})")
    return ", ".join(parts)


def time_text(ts: float | None) -> str:
    """A date and time to the second, '' for none."""
    if ts is None or ts <= 0:
        return ""
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")

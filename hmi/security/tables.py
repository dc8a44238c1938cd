"""The tables of users, roles, role permissions and grants, and the queries over them.

Defined on `hmi.db.metadata`; `UserStore` (hmi.security.store) is the only writer. Times are
float epoch seconds, as in the alarm journal. A password is only ever stored as an scrypt hash.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Double,
    Engine,
    ForeignKey,
    Integer,
    String,
    Table,
    func,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError

from hmi.db import metadata
from hmi.security.errors import UserError
from hmi.security.permissions import ANY_AREA, DEFAULT_ROLES, MANAGE_USERS, RoleGrant
from hmi.security.user_info import UserInfo

__all__ = [
    "TABLES",
    "Credentials",
    "UserInfo",
    "grants_by_user",
    "insert_grants",
    "insert_permissions",
    "keep_an_administrator",
    "password_history",
    "role_permissions",
    "roles",
    "seed_roles",
    "user_info",
    "user_roles",
    "users",
]

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("full_name", String(200), nullable=False),
    Column("password", String(300), nullable=False),  # an scrypt hash (hmi.security.passwords)
    Column("disabled", Boolean, nullable=False),
    Column("created", Double, nullable=False),  # epoch seconds, as the alarm journal
    Column("failed_count", Integer, nullable=False),  # consecutive failed logins
    Column("locked_until", Double),  # epoch seconds; None or past: not locked
    Column("password_changed", Double, nullable=False),
)
password_history = Table(
    "password_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("hash", String(300), nullable=False),
    Column("ts", Double, nullable=False),
)
roles = Table(
    "roles",
    metadata,
    Column("name", String(64), primary_key=True),
)
role_permissions = Table(
    "role_permissions",
    metadata,
    Column("role", String(64), ForeignKey("roles.name"), primary_key=True),
    Column("permission", String(64), primary_key=True),
)
user_roles = Table(
    "user_roles",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("role", String(64), ForeignKey("roles.name"), primary_key=True),
    Column("area", String(100), primary_key=True),  # "*": every area
)
TABLES = [users, password_history, roles, role_permissions, user_roles]


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a login checks: the stored hash (kept out of repr) and the lockout state."""

    id: int
    name: str
    full_name: str
    password_hash: str = field(repr=False)
    disabled: bool
    failed_count: int
    locked_until: float | None


def seed_roles(engine: Engine) -> None:
    """Create the tables that are missing, and the default roles when there are none."""
    metadata.create_all(engine, tables=TABLES)
    with engine.connect() as conn:
        if conn.execute(select(func.count()).select_from(roles)).scalar_one():
            return
    with contextlib.suppress(IntegrityError), engine.begin() as conn:  # another seat was first
        conn.execute(insert(roles), [{"name": r} for r in DEFAULT_ROLES])
        conn.execute(
            insert(role_permissions),
            [{"role": r, "permission": p} for r, ps in DEFAULT_ROLES.items() for p in ps],
        )


def insert_grants(conn: Connection, user_id: int, grants: list[RoleGrant]) -> None:
    conn.execute(
        insert(user_roles), [{"user_id": user_id, "role": g.role, "area": g.area} for g in grants]
    )


def insert_permissions(conn: Connection, role: str, permissions: set[str]) -> None:
    if permissions:
        conn.execute(
            insert(role_permissions), [{"role": role, "permission": p} for p in sorted(permissions)]
        )


def keep_an_administrator(conn: Connection) -> None:
    """Refuse a change that leaves users but none enabled who may manage users everywhere."""
    if not conn.execute(select(func.count()).select_from(users)).scalar_one():
        return
    admins = conn.execute(
        select(func.count())
        .select_from(users)
        .join(user_roles, user_roles.c.user_id == users.c.id)
        .join(role_permissions, role_permissions.c.role == user_roles.c.role)
        .where(
            users.c.disabled.is_(False),
            user_roles.c.area == ANY_AREA,
            role_permissions.c.permission == MANAGE_USERS,
        )
    ).scalar_one()
    if not admins:
        raise UserError("refused: no enabled user would be left who may manage users everywhere")


def grants_by_user(conn: Connection, user_id: int | None) -> dict[int, tuple[RoleGrant, ...]]:
    query = select(user_roles)
    if user_id is not None:
        query = query.where(user_roles.c.user_id == user_id)
    found: dict[int, list[RoleGrant]] = {}
    for row in conn.execute(query):
        found.setdefault(row.user_id, []).append(RoleGrant(row.role, row.area))
    return {k: tuple(sorted(v)) for k, v in found.items()}


def user_info(row: Any, grants: tuple[RoleGrant, ...]) -> UserInfo:
    return UserInfo(
        name=row.name,
        full_name=row.full_name,
        disabled=row.disabled,
        created=row.created,
        password_changed=row.password_changed,
        failed_count=row.failed_count,
        locked_until=row.locked_until,
        grants=grants,
    )

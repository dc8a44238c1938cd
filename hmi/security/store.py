"""Users, roles, role permissions and role grants per area, in the relational store.

Tables in `hmi.security.tables` (SQLite or PostgreSQL through any SQLAlchemy URL). Roles and their
permissions are data: seeded from `DEFAULT_ROLES` when the roles table is empty, editable later.

Every change is recorded through the audit sink before it is committed, so no change is
ever made without its record: the change is first tried in a transaction that is rolled back
(a refusal, such as a taken name or removing the last administrator, surfaces there and
records nothing), then the record is written, then the change runs again in one transaction.
If the record cannot be written the change is not made (`AuditUnavailable`); if the record was
written but the change then fails (a database error, or another seat changed the same user a
moment earlier), a second record with result "failed" says so. The record is not written
inside our transaction: on SQLite the trail writes through its own connection, which would
wait for our write lock.

Passwords never leave this module except as scrypt hashes, and hashes never leave it in a
`UserInfo`, a message or a log line.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from hmi.security.audit_sink import AuditSink, record
from hmi.security.errors import AuditUnavailable, AuthError, SecurityError, UserError
from hmi.security.passwords import DEFAULT_PARAMS, ScryptParams, hash_password, verify_password
from hmi.security.permissions import (
    ALL_PERMISSIONS,
    ANY_AREA,
    MANAGE_USERS,
    RoleGrant,
    format_grants,
)
from hmi.security.policy import PasswordPolicy
from hmi.security.tables import (
    Credentials,
    UserInfo,
    grants_by_user,
    insert_grants,
    insert_permissions,
    keep_an_administrator,
    password_history,
    role_permissions,
    roles,
    seed_roles,
    user_info,
    user_roles,
    users,
)

__all__ = ["Credentials", "UserInfo", "UserStore"]

_NAME = re.compile(r"^[\w.@-]{1,100}$")  # letters of any script, digits, _ . @ -


class UserStore:
    """Users, roles and grants in the relational store; every change is audited."""

    def __init__(
        self,
        engine: Engine,
        audit: AuditSink,
        *,
        policy: PasswordPolicy | None = None,
        params: ScryptParams = DEFAULT_PARAMS,
        clock: Callable[[], float] = time.time,
        host: str | None = None,
    ) -> None:
        self.engine = engine
        self.audit = audit
        self.policy = policy or PasswordPolicy()
        self.params = params
        self.host = host
        self._clock = clock
        seed_roles(engine)

    def record(
        self,
        user: str,
        action: str,
        *,
        target: str = "",
        old: str = "",
        new: str = "",
        reason: str = "",
        result: str = "ok",
    ) -> None:
        """Write one audit record; AuditUnavailable when the trail cannot write it."""
        record(
            self.audit,
            self.host,
            user,
            action,
            target=target,
            old=old,
            new=new,
            reason=reason,
            result=result,
        )

    def _change(
        self, by: str, action: str, target: str, write: Callable[[Connection], None], **audit: str
    ) -> None:
        """Try `write` and roll back, audit, then run `write` for real in one transaction."""
        # the trial surfaces a refusal (a rule, a taken name) before anything is recorded
        self._write(action, target, write, commit=False)
        self.record(by, action, target=target, **audit)
        try:
            self._write(action, target, write, commit=True)
        except SecurityError as exc:
            # best effort: the trail said "ok" a moment ago, so say it did not happen after all
            failed = {**audit, "reason": str(exc)}
            with contextlib.suppress(AuditUnavailable):
                self.record(by, action, target=target, result="failed", **failed)
            raise

    def _write(
        self, action: str, target: str, write: Callable[[Connection], None], *, commit: bool
    ) -> None:
        try:
            with self.engine.connect() as conn, conn.begin() as tx:
                write(conn)
                if not commit:
                    tx.rollback()
        except IntegrityError as exc:
            raise UserError(
                f"{action} of {target!r} conflicts with the store: {_why(exc)}"
            ) from None
        except SQLAlchemyError as exc:
            # SQLAlchemy's message carries the statement's parameters (a password hash)
            raise SecurityError(f"the user store could not be written ({_why(exc)})") from None

    # --- reading ---------------------------------------------------------------------------

    def first_start(self) -> bool:
        """True when there is no user yet: the first administrator must be created."""
        with self.engine.connect() as conn:
            return not conn.execute(select(func.count()).select_from(users)).scalar_one()

    def list_users(self) -> list[UserInfo]:
        """Every user, by name."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(users).order_by(users.c.name)).all()
            grants = grants_by_user(conn, None)
        return [user_info(r, grants.get(r.id, ())) for r in rows]

    def get(self, name: str) -> UserInfo | None:
        """The user called `name`, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.name == name)).one_or_none()
            if row is None:
                return None
            return user_info(row, grants_by_user(conn, row.id).get(row.id, ()))

    def credentials(self, name: str) -> Credentials | None:
        """The stored hash and lockout state of `name`, for authentication."""
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.name == name)).one_or_none()
        if row is None:
            return None
        return Credentials(
            row.id,
            row.name,
            row.full_name,
            row.password,
            row.disabled,
            row.failed_count,
            row.locked_until,
        )

    def grants(self, name: str) -> tuple[RoleGrant, ...]:
        """The role grants of `name` (empty for an unknown user)."""
        info = self.get(name)
        return info.grants if info else ()

    def roles(self) -> dict[str, frozenset[str]]:
        """Every role and its permissions."""
        with self.engine.connect() as conn:
            names = conn.execute(select(roles.c.name)).scalars().all()
            pairs = conn.execute(select(role_permissions)).all()
        found: dict[str, set[str]] = {n: set() for n in names}
        for role, permission in pairs:
            found[role].add(permission)
        return {n: frozenset(ps) for n, ps in sorted(found.items())}

    # --- users -----------------------------------------------------------------------------

    def add_user(
        self,
        name: str,
        password: str,
        grants: Iterable[RoleGrant],
        *,
        by: str,
        full_name: str = "",
    ) -> UserInfo:
        """Create a user with a policy-checked password and role grants."""
        if not _NAME.match(name):
            raise UserError(
                f"bad user name {name!r}: 1 to 100 letters, digits or _ . @ - (no spaces)"
            )
        if self.get(name) is not None:
            raise UserError(f"user {name!r} already exists")
        wanted = self._checked_grants(grants)
        if self.first_start() and not self._may_manage_users(wanted):
            raise UserError(
                "the first user must hold a role that may manage users in every area "
                "(e.g. administrator)"
            )
        self.policy.check(name, password)
        hashed = hash_password(password, self.params)
        now = self._clock()

        def write(conn: Connection) -> None:
            key = conn.execute(
                insert(users).values(
                    name=name,
                    full_name=full_name,
                    password=hashed,
                    disabled=False,
                    created=now,
                    failed_count=0,
                    locked_until=None,
                    password_changed=now,
                )
            ).inserted_primary_key
            assert key is not None
            user_id = key[0]
            conn.execute(insert(password_history).values(user_id=user_id, hash=hashed, ts=now))
            insert_grants(conn, user_id, wanted)

        self._change(by, "user_add", name, write, new=format_grants(wanted), reason=full_name)
        info = self.get(name)
        assert info is not None
        return info

    def disable(self, name: str, *, by: str, reason: str = "") -> None:
        """Refuse every further login of `name` (the user is kept, with its history)."""
        user_id = self._id(name)

        def write(conn: Connection) -> None:
            conn.execute(update(users).where(users.c.id == user_id).values(disabled=True))
            keep_an_administrator(conn)

        self._change(by, "user_disable", name, write, old="enabled", new="disabled", reason=reason)

    def enable(self, name: str, *, by: str, reason: str = "") -> None:
        """Allow `name` to log in again (also clears a lockout)."""
        user_id = self._id(name)

        def write(conn: Connection) -> None:
            conn.execute(
                update(users)
                .where(users.c.id == user_id)
                .values(disabled=False, failed_count=0, locked_until=None)
            )

        self._change(by, "user_enable", name, write, old="disabled", new="enabled", reason=reason)

    def set_roles(
        self, name: str, grants: Iterable[RoleGrant], *, by: str, reason: str = ""
    ) -> None:
        """Replace the role grants of `name`; they apply from its next login."""
        user_id = self._id(name)
        wanted = self._checked_grants(grants)
        old = format_grants(self.grants(name))

        def write(conn: Connection) -> None:
            conn.execute(delete(user_roles).where(user_roles.c.user_id == user_id))
            insert_grants(conn, user_id, wanted)
            keep_an_administrator(conn)

        self._change(
            by, "user_roles", name, write, old=old, new=format_grants(wanted), reason=reason
        )

    def reset_password(self, name: str, password: str, *, by: str) -> None:
        """An administrator sets a new password for `name` (policy applies; clears a lockout)."""
        self._set_password(name, password, by=by, action="password_reset")

    def change_password(self, name: str, old: str, new: str) -> None:
        """`name` changes its own password, proving the current one."""
        creds = self.credentials(name)
        if creds is None or not verify_password(old, creds.password_hash):
            self.record(
                name, "password_change", target=name, result="failed", reason="wrong password"
            )
            raise AuthError("the current password is wrong")
        self._set_password(name, new, by=name, action="password_change")

    def _set_password(self, name: str, password: str, *, by: str, action: str) -> None:
        user_id = self._id(name)
        self.policy.check(name, password)
        with self.engine.connect() as conn:
            recent = (
                conn.execute(
                    select(password_history.c.hash)
                    .where(password_history.c.user_id == user_id)
                    .order_by(password_history.c.ts.desc(), password_history.c.id.desc())
                    .limit(max(self.policy.history, 1))
                )
                .scalars()
                .all()
            )
        self.policy.check_history(password, recent)
        hashed = hash_password(password, self.params)
        now = self._clock()

        def write(conn: Connection) -> None:
            conn.execute(
                update(users)
                .where(users.c.id == user_id)
                .values(password=hashed, password_changed=now, failed_count=0, locked_until=None)
            )
            conn.execute(insert(password_history).values(user_id=user_id, hash=hashed, ts=now))
            keep = (
                select(password_history.c.id)
                .where(password_history.c.user_id == user_id)
                .order_by(password_history.c.ts.desc(), password_history.c.id.desc())
                .limit(max(self.policy.history, 1))
            )
            conn.execute(
                delete(password_history).where(
                    password_history.c.user_id == user_id,
                    password_history.c.id.not_in(keep.scalar_subquery()),
                )
            )

        self._change(by, action, name, write)

    # --- roles -----------------------------------------------------------------------------

    def add_role(self, name: str, permissions: Iterable[str], *, by: str) -> None:
        """Create a role holding `permissions`."""
        if not _NAME.match(name) or len(name) > 64:
            raise UserError(f"bad role name {name!r}: 1 to 64 letters, digits or _ . @ -")
        if name in self.roles():
            raise UserError(f"role {name!r} already exists")
        wanted = _checked_permissions(permissions)

        def write(conn: Connection) -> None:
            conn.execute(insert(roles).values(name=name))
            insert_permissions(conn, name, wanted)

        self._change(by, "role_add", name, write, new=" ".join(sorted(wanted)))

    def set_role_permissions(self, name: str, permissions: Iterable[str], *, by: str) -> None:
        """Replace the permissions of role `name`; they apply from each holder's next login."""
        current = self.roles()
        if name not in current:
            raise UserError(f"no role {name!r} (known: {', '.join(current)})")
        wanted = _checked_permissions(permissions)

        def write(conn: Connection) -> None:
            conn.execute(delete(role_permissions).where(role_permissions.c.role == name))
            insert_permissions(conn, name, wanted)
            keep_an_administrator(conn)

        self._change(
            by,
            "role_permissions",
            name,
            write,
            old=" ".join(sorted(current[name])),
            new=" ".join(sorted(wanted)),
        )

    def remove_role(self, name: str, *, by: str) -> None:
        """Delete role `name`; refused while a user holds it."""
        current = self.roles()
        if name not in current:
            raise UserError(f"no role {name!r}")
        with self.engine.connect() as conn:
            held = conn.execute(
                select(func.count()).select_from(user_roles).where(user_roles.c.role == name)
            ).scalar_one()
        if held:
            raise UserError(f"role {name!r} is held by {held} grant(s); change those users first")

        def write(conn: Connection) -> None:
            conn.execute(delete(role_permissions).where(role_permissions.c.role == name))
            conn.execute(delete(roles).where(roles.c.name == name))

        self._change(by, "role_remove", name, write, old=" ".join(sorted(current[name])))

    # --- for the authenticator -------------------------------------------------------------

    def register_failure(
        self, user_id: int, now: float, max_failures: int, lockout: float
    ) -> float | None:
        """Count one failed login; the lockout end when this one reached `max_failures`."""
        with self.engine.begin() as conn:
            # the increment happens in the database, so failures from several seats add up
            conn.execute(
                update(users)
                .where(users.c.id == user_id)
                .values(failed_count=users.c.failed_count + 1)
            )
            count = conn.execute(
                select(users.c.failed_count).where(users.c.id == user_id)
            ).scalar_one()
            if count < max_failures:
                return None
            until = now + lockout
            conn.execute(
                update(users)
                .where(users.c.id == user_id)
                .values(failed_count=0, locked_until=until)
            )
            return until

    def register_success(self, user_id: int, rehash: str | None = None) -> None:
        """Clear the failure count (and store a re-hashed password made with new parameters)."""
        values: dict[str, Any] = {"failed_count": 0, "locked_until": None}
        if rehash is not None:
            values["password"] = rehash
        with self.engine.begin() as conn:
            conn.execute(update(users).where(users.c.id == user_id).values(**values))

    def permissions_by_area(self, name: str) -> dict[str, frozenset[str]]:
        """The permissions `name` holds per area ("*": every area), from its roles."""
        table = self.roles()
        found: dict[str, set[str]] = {}
        for g in self.grants(name):
            found.setdefault(g.area, set()).update(table.get(g.role, ()))
        return {area: frozenset(ps) for area, ps in found.items()}

    # --- helpers ---------------------------------------------------------------------------

    def _id(self, name: str) -> int:
        with self.engine.connect() as conn:
            user_id = conn.execute(select(users.c.id).where(users.c.name == name)).scalar()
        if user_id is None:
            raise UserError(f"no user {name!r}")
        return int(user_id)

    def _may_manage_users(self, grants: list[RoleGrant]) -> bool:
        table = self.roles()
        return any(g.area == ANY_AREA and MANAGE_USERS in table[g.role] for g in grants)

    def _checked_grants(self, grants: Iterable[RoleGrant]) -> list[RoleGrant]:
        wanted = sorted(set(grants))
        if not wanted:
            raise UserError("a user needs at least one role")
        known = self.roles()
        for g in wanted:
            if g.role not in known:
                raise UserError(f"no role {g.role!r} (known: {', '.join(known)})")
            if not g.area.strip() or len(g.area) > 100:
                raise UserError(f"bad area {g.area!r} for role {g.role!r}")
        return wanted


def _why(exc: BaseException) -> str:
    if isinstance(exc, SQLAlchemyError) and getattr(exc, "orig", None) is not None:
        return type(exc.orig).__name__  # type: ignore[attr-defined]
    return type(exc).__name__


def _checked_permissions(permissions: Iterable[str]) -> set[str]:
    wanted = set(permissions)
    unknown = sorted(wanted - ALL_PERMISSIONS)
    if unknown:
        raise UserError(
            f"unknown permission(s) {', '.join(unknown)} "
            f"(known: {', '.join(sorted(ALL_PERMISSIONS))})"
        )
    return wanted

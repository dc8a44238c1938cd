"""The user store on SQLite and PostgreSQL: users, roles, grants per area, passwords, audit."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select

from hmi.security.errors import AuditUnavailable, AuthError, PasswordRefused, UserError
from hmi.security.passwords import ScryptParams
from hmi.security.permissions import (
    ALL_PERMISSIONS,
    DEFAULT_ROLES,
    EXPORT_REPORTS,
    MANAGE_USERS,
    OPERATE,
    VIEW,
    RoleGrant,
    parse_grants,
)
from hmi.security.store import UserStore, password_history, users

FAST = ScryptParams(n=2**8, r=8, p=1)
ADMIN_PW = "Root-secret-1"
OP_PW = "Valve-secret-2"


class ListAudit:
    """An audit sink keeping records in a list; `failing = True` makes every record fail."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.failing = False

    def record(
        self,
        *,
        user: str,
        action: str,
        target: str = "",
        old: str = "",
        new: str = "",
        reason: str = "",
        result: str = "ok",
        host: str | None = None,
    ) -> object:
        if self.failing:
            raise OSError("audit database unreachable")
        rec = {
            "user": user,
            "action": action,
            "target": target,
            "old": old,
            "new": new,
            "reason": reason,
            "result": result,
            "host": host,
        }
        self.records.append(rec)
        return rec

    def actions(self) -> list[tuple[str, str]]:
        """(action, result) of every record, in order."""
        return [(r["action"], r["result"]) for r in self.records]


def make_store(engine: Engine, audit: ListAudit, **kw: Any) -> UserStore:
    """A store with cheap hashing and an administrator 'admin' and an operator 'op' for SS1."""
    store = UserStore(engine, audit, params=FAST, host="seat-1", **kw)
    store.add_user("admin", ADMIN_PW, [RoleGrant("administrator")], by="os:root")
    store.add_user("op", OP_PW, parse_grants("operator:SS1"), by="admin", full_name="Op One")
    return store


def test_roles_are_seeded_with_the_defaults_and_editable(database: Engine) -> None:
    audit = ListAudit()
    store = UserStore(database, audit, params=FAST)
    assert store.roles() == dict(sorted(DEFAULT_ROLES.items()))
    assert store.roles()["administrator"] == ALL_PERMISSIONS
    UserStore(database, audit, params=FAST)  # a second seat does not seed again
    store.add_role("reporter", [VIEW, EXPORT_REPORTS], by="admin")
    store.set_role_permissions("viewer", [VIEW, EXPORT_REPORTS], by="admin")
    assert store.roles()["viewer"] == {VIEW, EXPORT_REPORTS}
    with pytest.raises(UserError, match="unknown permission"):
        store.set_role_permissions("viewer", ["fly"], by="admin")
    with pytest.raises(UserError, match="already exists"):
        store.add_role("reporter", [VIEW], by="admin")
    store.remove_role("reporter", by="admin")
    assert "reporter" not in store.roles()
    assert audit.actions() == [
        ("role_add", "ok"),
        ("role_permissions", "ok"),
        ("role_remove", "ok"),
    ]
    assert audit.records[1]["old"] == "view" and audit.records[1]["new"] == "export_reports view"


def test_users_are_added_listed_disabled_enabled_and_regranted(database: Engine) -> None:
    audit = ListAudit()
    store = UserStore(database, audit, params=FAST, host="seat-1")
    assert store.first_start()
    with pytest.raises(UserError, match="first user must hold a role that may manage users"):
        store.add_user("op", OP_PW, [RoleGrant("operator")], by="os:root")
    store.add_user("admin", ADMIN_PW, [RoleGrant("administrator")], by="os:root")
    store.add_user("op", OP_PW, parse_grants("operator:SS1,SS2"), by="admin", full_name="Op")
    assert not store.first_start()
    assert [u.name for u in store.list_users()] == ["admin", "op"]
    op = store.get("op")
    assert op is not None and op.full_name == "Op" and not op.disabled
    assert op.grants == (RoleGrant("operator", "SS1"), RoleGrant("operator", "SS2"))
    assert op.to_row()["roles"] == ["operator:SS1", "operator:SS2"]
    assert "scrypt" not in repr(op) and "password=" not in repr(op)
    store.disable("op", by="admin", reason="left the company")
    assert store.get("op").disabled  # type: ignore[union-attr]
    store.enable("op", by="admin")
    store.set_roles("op", [RoleGrant("supervisor"), RoleGrant("operator", "SS3")], by="admin")
    assert store.grants("op") == (RoleGrant("operator", "SS3"), RoleGrant("supervisor"))
    assert store.permissions_by_area("op")["*"] == DEFAULT_ROLES["supervisor"]
    add = audit.records[1]
    assert add == {
        "user": "admin",
        "action": "user_add",
        "target": "op",
        "old": "",
        "new": "operator:SS1,SS2",
        "reason": "Op",
        "result": "ok",
        "host": "seat-1",
    }
    assert audit.actions()[2:] == [
        ("user_disable", "ok"),
        ("user_enable", "ok"),
        ("user_roles", "ok"),
    ]
    assert audit.records[2]["reason"] == "left the company"
    assert audit.records[4]["old"] == "operator:SS1,SS2"
    assert audit.records[4]["new"] == "operator:SS3 supervisor"


def test_bad_user_changes_are_refused_with_a_message(database: Engine) -> None:
    store = make_store(database, ListAudit())
    with pytest.raises(UserError, match="already exists"):
        store.add_user("op", OP_PW, [RoleGrant("operator")], by="admin")
    with pytest.raises(UserError, match="bad user name"):
        store.add_user("two words", OP_PW, [RoleGrant("operator")], by="admin")
    with pytest.raises(UserError, match="no role 'pilot'"):
        store.add_user("op2", OP_PW, [RoleGrant("pilot")], by="admin")
    with pytest.raises(UserError, match="at least one role"):
        store.set_roles("op", [], by="admin")
    with pytest.raises(UserError, match="no user 'ghost'"):
        store.disable("ghost", by="admin")
    with pytest.raises(UserError, match="held by 1 grant"):
        store.remove_role("operator", by="admin")
    # the last one who may manage users can not be switched off
    with pytest.raises(UserError, match="no enabled user would be left"):
        store.disable("admin", by="admin")
    with pytest.raises(UserError, match="no enabled user would be left"):
        store.set_roles("admin", [RoleGrant("administrator", "SS1")], by="admin")
    with pytest.raises(UserError, match="no enabled user would be left"):
        store.set_role_permissions("administrator", [VIEW, OPERATE], by="admin")
    assert store.get("admin").grants == (RoleGrant("administrator"),)  # type: ignore[union-attr]
    assert MANAGE_USERS in store.roles()["administrator"]


def test_passwords_follow_the_policy_and_history(database: Engine) -> None:
    audit = ListAudit()
    store = make_store(database, audit)
    with pytest.raises(PasswordRefused, match="at least 10 characters"):
        store.add_user("op2", "Short-1", [RoleGrant("operator")], by="admin")
    with pytest.raises(PasswordRefused, match="must not contain the user name"):
        store.reset_password("admin", "My-ADMIN-pass-1", by="admin")
    with pytest.raises(PasswordRefused, match="differ from the last 5"):
        store.reset_password("op", OP_PW, by="admin")
    for i in range(5):
        store.reset_password("op", f"Rotation-{i}-secret", by="admin")
    with pytest.raises(PasswordRefused, match="differ from the last 5"):
        store.reset_password("op", "Rotation-1-secret", by="admin")
    store.reset_password("op", OP_PW, by="admin")  # six changes ago: allowed again
    with database.connect() as conn:
        op_id = conn.execute(select(users.c.id).where(users.c.name == "op")).scalar_one()
        kept = conn.execute(
            select(password_history.c.id).where(password_history.c.user_id == op_id)
        ).all()
    assert len(kept) == 5
    with pytest.raises(AuthError, match="current password is wrong"):
        store.change_password("op", "Not-the-password-1", "Brand-new-pass-1")
    store.change_password("op", OP_PW, "Brand-new-pass-1")
    assert audit.actions()[-3:] == [
        ("password_reset", "ok"),
        ("password_change", "failed"),
        ("password_change", "ok"),
    ]
    assert all(
        "Rotation" not in str(v) and OP_PW not in str(v) for r in audit.records for v in r.values()
    )


def test_an_audit_failure_refuses_the_change_it_records(database: Engine) -> None:
    audit = ListAudit()
    store = make_store(database, audit)
    before = len(audit.records)
    audit.failing = True
    with pytest.raises(AuditUnavailable, match="could not record user_add of 'op2'"):
        store.add_user("op2", OP_PW, [RoleGrant("operator")], by="admin")
    with pytest.raises(AuditUnavailable):
        store.disable("op", by="admin")
    with pytest.raises(AuditUnavailable):
        store.set_roles("op", [RoleGrant("viewer")], by="admin")
    with pytest.raises(AuditUnavailable):
        store.reset_password("op", "Another-secret-9", by="admin")
    with pytest.raises(AuditUnavailable):
        store.set_role_permissions("viewer", [VIEW, OPERATE], by="admin")
    audit.failing = False
    assert store.get("op2") is None
    op = store.get("op")
    assert op is not None and not op.disabled and op.grants == (RoleGrant("operator", "SS1"),)
    assert store.roles()["viewer"] == {VIEW}
    assert len(audit.records) == before
    store.reset_password("op", "Another-secret-9", by="admin")  # the old one was kept

"""Logins, lockout, idle lock, unlock, shift change and area-narrowed permissions."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import Engine

from hmi.security.auth import Authenticator
from hmi.security.errors import AccountDisabled, AccountLocked, AuditUnavailable, AuthError
from hmi.security.passwords import ScryptParams
from hmi.security.permissions import ACKNOWLEDGE, MANAGE_USERS, OPERATE, SHELVE, VIEW, RoleGrant
from hmi.security.store import UserStore
from tests.hmi.test_security_store import ADMIN_PW, FAST, OP_PW, ListAudit, make_store

T0 = 1_800_000_000.0


class Clock:
    """A settable clock for lockout and idle times."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def setup(engine: Engine, **kw: float) -> tuple[Authenticator, ListAudit, Clock]:
    audit, clock = ListAudit(), Clock()
    store = make_store(engine, audit, clock=clock)
    audit.records.clear()
    return Authenticator(store, audit, clock=clock, host="seat-1", **kw), audit, clock


def test_login_gives_a_session_with_the_roles_permissions(database: Engine) -> None:
    auth, audit, _ = setup(database)
    assert not auth.first_start()
    s = auth.login("admin", ADMIN_PW)
    assert (s.name, s.user, s.host, s.started, s.last_active) == (
        "admin",
        "admin",
        "seat-1",
        T0,
        T0,
    )
    assert s.roles == (RoleGrant("administrator"),)
    assert s.may(MANAGE_USERS, "*") and s.may(OPERATE, "SS7")
    auth.logout(s)
    assert s.closed and not s.may(VIEW, "SS7")
    assert audit.actions() == [("login", "ok"), ("logout", "ok")]
    assert audit.records[0]["host"] == "seat-1" and audit.records[0]["new"] == "administrator"


def test_first_start_when_there_is_no_user(database: Engine) -> None:
    audit = ListAudit()
    auth = Authenticator(UserStore(database, audit, params=FAST), audit)
    assert auth.first_start()
    with pytest.raises(AuthError, match="wrong user name or password"):
        auth.login("admin", "admin")  # no built-in default account


def test_wrong_password_and_unknown_user_get_the_same_message(database: Engine) -> None:
    auth, audit, _ = setup(database)
    with pytest.raises(AuthError) as wrong:
        auth.login("op", "Not-his-password-1")
    with pytest.raises(AuthError) as unknown:
        auth.login("nobody", OP_PW)
    assert type(wrong.value) is type(unknown.value) is AuthError
    assert str(wrong.value) == str(unknown.value) == "wrong user name or password"
    assert audit.actions() == [("login", "failed"), ("login", "failed")]
    assert [r["reason"] for r in audit.records] == ["wrong password", "unknown user name"]
    assert [r["user"] for r in audit.records] == ["op", "(unknown)"]


def test_five_failures_lock_the_account_for_15_minutes_across_seats(database: Engine) -> None:
    auth, audit, clock = setup(database)
    for _ in range(4):
        with pytest.raises(AuthError) as info:
            auth.login("op", "Guessing-wrong-1")
        assert not isinstance(info.value, AccountLocked)
    with pytest.raises(AccountLocked) as locked:
        auth.login("op", "Guessing-wrong-1")
    assert locked.value.until == T0 + 900
    assert "locked after too many failed logins until" in str(locked.value)
    assert audit.actions()[-2:] == [("login", "failed"), ("lockout", "ok")]
    # the right password does not help, not even on another seat or after a restart
    other = Authenticator(auth.store, audit, clock=clock, host="seat-2")
    clock.now += 899
    with pytest.raises(AccountLocked):
        other.login("op", OP_PW)
    fresh_store = UserStore(database, audit, params=FAST, clock=clock)
    with pytest.raises(AccountLocked):
        Authenticator(fresh_store, audit, clock=clock).login("op", OP_PW)
    clock.now += 1
    assert other.login("op", OP_PW).name == "op"
    info_after = auth.store.get("op")
    assert info_after is not None and info_after.failed_count == 0


def test_a_success_resets_the_failure_count(database: Engine) -> None:
    auth, _, _ = setup(database)
    for _ in range(4):
        with pytest.raises(AuthError):
            auth.login("op", "Guessing-wrong-1")
    auth.login("op", OP_PW)
    for _ in range(4):
        with pytest.raises(AuthError) as info:
            auth.login("op", "Guessing-wrong-1")
        assert not isinstance(info.value, AccountLocked)


def test_a_disabled_account_may_not_log_in(database: Engine) -> None:
    auth, _, _ = setup(database)
    auth.store.disable("op", by="admin")
    with pytest.raises(AccountDisabled, match="'op' is disabled"):
        auth.login("op", OP_PW)
    with pytest.raises(AuthError) as wrong:  # a wrong password does not reveal the state
        auth.login("op", "Guessing-wrong-1")
    assert not isinstance(wrong.value, AccountDisabled)
    auth.store.enable("op", by="admin")
    assert auth.login("op", OP_PW).name == "op"


def test_an_operator_limited_to_ss1_may_operate_there_only(database: Engine) -> None:
    auth, _, _ = setup(database)
    s = auth.login("op", OP_PW)
    assert s.may(OPERATE, "SS1") and s.may(ACKNOWLEDGE, "SS1") and s.may(SHELVE, "SS1")
    assert not s.may(OPERATE, "SS2") and not s.may(VIEW, "SS2")
    assert not s.may(MANAGE_USERS, "SS1") and not s.may(OPERATE, "*")
    auth.store.set_roles("op", [RoleGrant("operator", "SS1"), RoleGrant("viewer")], by="admin")
    assert not s.may(VIEW, "SS2")  # roles are read at login
    s2 = auth.login("op", OP_PW)
    assert s2.may(VIEW, "SS2") and not s2.may(OPERATE, "SS2") and s2.may(OPERATE, "SS1")


def test_an_idle_session_locks_and_may_only_view_until_unlocked(database: Engine) -> None:
    auth, audit, clock = setup(database)
    s = auth.login("op", OP_PW)
    clock.now += 599
    s.touch()
    assert s.last_active == T0 + 599
    clock.now += 599
    assert not s.locked and s.may(OPERATE, "SS1")
    clock.now += 1
    assert s.locked
    assert s.may(VIEW, "SS1") and not s.may(VIEW, "SS2")  # the alarms stay visible
    assert not s.may(OPERATE, "SS1") and not s.may(ACKNOWLEDGE, "SS1")
    assert audit.actions()[-1] == ("lock", "ok") and audit.records[-1]["reason"] == "idle for 600 s"
    s.touch()
    assert s.locked  # activity does not unlock
    assert not auth.verify_password(s, OP_PW)  # no critical command from a locked screen
    with pytest.raises(AuthError):
        auth.unlock(s, ADMIN_PW)  # another person's password does not unlock it
    auth.unlock(s, OP_PW)
    assert not s.locked and s.may(OPERATE, "SS1") and s.last_active == clock.now
    auth.lock(s)
    assert s.locked and not s.may(OPERATE, "SS1")
    assert audit.actions()[-4:] == [
        ("lock", "ok"),
        ("unlock", "failed"),
        ("unlock", "ok"),
        ("lock", "ok"),
    ]


def test_switch_user_changes_shift_in_one_call(database: Engine) -> None:
    auth, audit, _ = setup(database)
    op = auth.login("op", OP_PW)
    auth.lock(op)
    with pytest.raises(AuthError):
        auth.switch_user(op, "admin", "Guessing-wrong-1")
    assert not op.closed and op.locked  # a failed login changes nothing
    admin = auth.switch_user(op, "admin", ADMIN_PW)
    assert op.closed and not op.may(VIEW, "SS1")
    assert admin.name == "admin" and admin.may(OPERATE, "SS2") and not admin.locked
    assert audit.actions()[-2:] == [("login", "ok"), ("logout", "ok")]
    assert (
        audit.records[-1]["user"] == "op" and audit.records[-1]["reason"] == "shift change to admin"
    )


def test_re_authentication_counts_failures_toward_the_lockout(database: Engine) -> None:
    auth, audit, _ = setup(database)
    s = auth.login("op", OP_PW)
    assert auth.verify_password(s, OP_PW)
    assert audit.actions()[-1] == ("reauthenticate", "ok")
    for _ in range(4):
        assert not auth.verify_password(s, "Guessing-wrong-1")
    assert not s.locked
    assert not auth.verify_password(s, "Guessing-wrong-1")
    assert s.locked  # someone was guessing at an open screen
    with pytest.raises(AccountLocked):
        auth.unlock(s, OP_PW)
    assert ("lockout", "ok") in audit.actions()


def test_an_audit_failure_refuses_the_login_and_the_unlock(database: Engine) -> None:
    auth, audit, _ = setup(database)
    audit.failing = True
    with pytest.raises(AuditUnavailable, match=r"could not record login of 'op'.*refused"):
        auth.login("op", OP_PW)
    audit.failing = False
    s = auth.login("op", OP_PW)
    auth.lock(s)
    audit.failing = True
    with pytest.raises(AuditUnavailable):
        auth.unlock(s, OP_PW)
    assert s.locked
    with pytest.raises(AuditUnavailable):
        auth.switch_user(s, "admin", ADMIN_PW)
    assert not s.closed
    with pytest.raises(AuditUnavailable):
        auth.logout(s)
    assert s.closed  # logging out is never refused


def test_the_idle_lock_holds_when_the_trail_fails(
    database: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    auth, audit, clock = setup(database, idle_lock=60.0)
    s = auth.login("op", OP_PW)
    audit.failing = True
    clock.now += 60
    with caplog.at_level(logging.ERROR, logger="hmi.security.auth"):
        assert s.locked
    assert "the session is locked regardless" in caplog.text


def test_a_login_rehashes_with_raised_parameters(database: Engine) -> None:
    auth, _, _ = setup(database)
    stronger = ScryptParams(n=2**9, r=8, p=1)
    auth.store.params = stronger
    auth.login("op", OP_PW)
    creds = auth.store.credentials("op")
    assert creds is not None and creds.password_hash.startswith("scrypt$512$8$1$")
    assert auth.login("op", OP_PW).name == "op"


def test_no_password_reaches_a_log_record_a_message_or_a_repr(
    database: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    secret, wrong = "Zebra-Quartz-77", "Yak-Quill-88xx"
    seen: list[str] = []
    with caplog.at_level(logging.DEBUG):
        auth, audit, clock = setup(database, idle_lock=60.0)
        store = auth.store
        store.add_user("carol", secret, [RoleGrant("engineer")], by="admin")
        s = auth.login("carol", secret)
        seen += [repr(s), str(store.get("carol")), repr(store.credentials("carol"))]
        for attempt in (
            lambda: auth.login("carol", wrong),
            lambda: auth.login(wrong, secret),
            lambda: auth.unlock(s, wrong),
            lambda: store.reset_password("carol", secret, by="admin"),
            lambda: store.change_password("carol", wrong, secret),
            lambda: store.add_user("dave", wrong[:5], [RoleGrant("viewer")], by="admin"),
        ):
            auth.lock(s)
            try:
                attempt()
            except Exception as exc:
                seen += [str(exc), repr(exc)]
        assert not auth.verify_password(s, secret)  # locked
        auth.unlock(s, secret)
        assert auth.verify_password(s, secret) and not auth.verify_password(s, wrong)
        clock.now += 61
        assert s.locked
        auth.switch_user(s, "carol", secret)
        audit.failing = True
        for attempt in (
            lambda: auth.login("carol", secret),
            lambda: store.reset_password("carol", "Fresh-Secret-31", by="admin"),
        ):
            try:
                attempt()
            except AuditUnavailable as exc:
                seen += [str(exc), repr(exc)]
    texts = [r.getMessage() for r in caplog.records] + seen
    texts += [str(v) for r in audit.records for v in r.values()]
    for text in texts:
        for password in (secret, wrong, wrong[:5], "Fresh-Secret-31"):
            assert password not in text, text
        assert "scrypt$" not in text, text
    assert len(seen) >= 10

"""Logins, sessions, lockout, idle lock, re-authentication and shift change.

`Authenticator.login` turns a name and password into a `Session`: the principal the alarm
engine and the command service take (`name`, `may(permission, area)`). Failed logins are
counted in the database, so a lockout holds across seats and restarts. Every login, failure,
lockout, logout, lock and unlock is recorded through the audit sink; when a record cannot be
written, a login, unlock or re-authentication is refused (`AuditUnavailable`). Logging out
and locking are never refused (that would leave a screen open): the session ends or locks,
then the failure to record it is raised (or, for an idle lock, logged).

Role permissions are read at login: a changed role applies from the user's next login.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from hmi.security.audit_sink import AuditSink, record
from hmi.security.errors import AccountDisabled, AccountLocked, AuditUnavailable, AuthError
from hmi.security.passwords import hash_password, needs_rehash, verify_password
from hmi.security.permissions import ANY_AREA, VIEW, RoleGrant, format_grants

if TYPE_CHECKING:  # the store imports SQLAlchemy; a Session is needed without it
    from hmi.security.store import Credentials, UserStore

__all__ = ["UNKNOWN_USER", "Authenticator", "Session"]

UNKNOWN_USER = "(unknown)"  # the audit user of a failed login under a name no one has

log = logging.getLogger("hmi.security.auth")


class Session:
    """A logged-in person: who, from where, what they may do per area, and whether locked."""

    def __init__(
        self,
        user: str,
        full_name: str,
        host: str | None,
        roles: tuple[RoleGrant, ...],
        permissions: Mapping[str, frozenset[str]],
        *,
        clock: Callable[[], float],
        idle_lock: float,
        on_idle: Callable[[Session], None],
    ) -> None:
        self.user = user
        self.full_name = full_name
        self.host = host
        self.roles = roles
        self._permissions = dict(permissions)
        self._clock = clock
        self._idle_lock = idle_lock
        self._on_idle = on_idle
        self._guard = threading.Lock()
        self.started = clock()
        self.last_active = self.started
        self._locked = False
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "locked" if self._locked else "open"
        roles = format_grants(self.roles)
        return f"Session({self.user!r}, host={self.host!r}, roles={roles!r}, {state})"

    @property
    def name(self) -> str:
        """The user name journaled with every request."""
        return self.user

    @property
    def closed(self) -> bool:
        """True after logout (or a shift change away from this session)."""
        return self._closed

    @property
    def locked(self) -> bool:
        """True after `idle_lock` seconds without `touch()`, or after an explicit lock."""
        with self._guard:
            if self._locked or self._closed:
                return True
            if self._clock() - self.last_active < self._idle_lock:
                return False
            self._locked = True
        self._on_idle(self)
        return True

    def touch(self) -> None:
        """Note activity (a key, a click): postpones the idle lock; no effect once locked."""
        if not self.locked:
            with self._guard:
                self.last_active = self._clock()

    def may(self, permission: str, area: str) -> bool:
        """True when this person holds `permission` in `area`; a locked session may only view."""
        if self._closed or (self.locked and permission != VIEW):
            return False
        held = self._permissions.get(ANY_AREA, frozenset())
        if area != ANY_AREA:
            held = held | self._permissions.get(area, frozenset())
        return permission in held

    def _set(self, *, locked: bool | None = None, closed: bool | None = None) -> None:
        with self._guard:
            if locked is not None:
                self._locked = locked
                if not locked:
                    self.last_active = self._clock()
            if closed is not None:
                self._closed = closed


class Authenticator:
    """Logs people in and out against the user store, with lockout and idle lock."""

    def __init__(
        self,
        store: UserStore,
        audit: AuditSink,
        *,
        max_failures: int = 5,
        lockout: float = 900.0,
        idle_lock: float = 600.0,
        clock: Callable[[], float] = time.time,
        host: str | None = None,
    ) -> None:
        self.store = store
        self.audit = audit
        self.max_failures = max_failures
        self.lockout = lockout
        self.idle_lock = idle_lock if idle_lock > 0 else math.inf
        self.host = host
        self._clock = clock
        self._dummy: str | None = None

    def first_start(self) -> bool:
        """True when no user exists: create the first administrator (`conduit users add`)."""
        return self.store.first_start()

    def login(self, name: str, password: str) -> Session:
        """A session for `name`; AuthError, AccountLocked, AccountDisabled or AuditUnavailable."""
        creds = self._check(name, password, "login")
        grants = self.store.grants(name)
        self._record(name, "login", new=format_grants(grants))
        rehash = None
        if needs_rehash(creds.password_hash, self.store.params):
            rehash = hash_password(password, self.store.params)  # the cost was raised since
        self.store.register_success(creds.id, rehash)
        return Session(
            creds.name,
            creds.full_name,
            self.host,
            grants,
            self.store.permissions_by_area(name),
            clock=self._clock,
            idle_lock=self.idle_lock,
            on_idle=self._idle_locked,
        )

    def logout(self, session: Session, *, reason: str = "") -> None:
        """End `session` (always); then AuditUnavailable if the logout could not be recorded."""
        if session.closed:
            return
        session._set(closed=True)
        self._record(session.user, "logout", reason=reason)

    def lock(self, session: Session) -> None:
        """Lock `session` now (it may only view until unlocked); never refused."""
        if session.closed:
            return
        session._set(locked=True)
        self._record(session.user, "lock", reason="by user")

    def unlock(self, session: Session, password: str) -> None:
        """Unlock `session` with its own user's password (another person: `switch_user`)."""
        if session.closed:
            raise AuthError("the session has ended; log in again")
        if not session.locked:
            return
        self._check(session.user, password, "unlock")
        self._record(session.user, "unlock")
        session._set(locked=False)

    def verify_password(self, session: Session, password: str) -> bool:
        """Re-authenticate `session`'s user for a critical command; failures count to lockout."""
        if session.closed or session.locked:
            return False
        try:
            creds = self._check(session.user, password, "reauthenticate")
        except AccountLocked:
            self.lock(session)  # someone is guessing at an open station
            return False
        except AuthError:
            return False
        self._record(session.user, "reauthenticate")
        self.store.register_success(creds.id)
        return True

    def switch_user(self, session: Session, name: str, password: str) -> Session:
        """Shift change: log `name` in, then `session` out; a failed login changes nothing."""
        new = self.login(name, password)
        try:
            self.logout(session, reason=f"shift change to {name}")
        except AuditUnavailable:
            new._set(closed=True)  # the trail just failed: leave nobody logged in unrecorded
            raise
        return new

    # --- the checks ------------------------------------------------------------------------

    def _check(self, name: str, password: str, action: str) -> Credentials:
        """The credentials of `name` when `password` is right and the account may log in."""
        now = self._clock()
        creds = self.store.credentials(name)
        if creds is None:
            verify_password(password, self._dummy_hash())  # as slow as a known user
            # not the typed name: it may be a password typed into the name field
            self._record(UNKNOWN_USER, action, result="failed", reason="unknown user name")
            raise AuthError
        if creds.locked_until is not None and creds.locked_until > now:
            self._record(
                name, action, result="refused", reason=f"locked until {_stamp(creds.locked_until)}"
            )
            raise AccountLocked(name, creds.locked_until)
        if not verify_password(password, creds.password_hash):
            until = self.store.register_failure(creds.id, now, self.max_failures, self.lockout)
            self._record(name, action, result="failed", reason="wrong password")
            if until is None:
                raise AuthError
            self._record(
                name,
                "lockout",
                target=name,
                new=f"locked until {_stamp(until)}",
                reason=f"{self.max_failures} failed logins in a row",
            )
            raise AccountLocked(name, until)
        if creds.disabled:
            self._record(name, action, result="refused", reason="account disabled")
            raise AccountDisabled(name)
        return creds

    def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = hash_password("not a password of anyone", self.store.params)
        return self._dummy

    def _idle_locked(self, session: Session) -> None:
        try:
            self._record(session.user, "lock", reason=f"idle for {self.idle_lock:.0f} s")
        except AuditUnavailable as exc:
            log.error("%s (the session is locked regardless)", exc)

    def _record(
        self,
        user: str,
        action: str,
        *,
        target: str = "",
        new: str = "",
        reason: str = "",
        result: str = "ok",
    ) -> None:
        record(
            self.audit,
            self.host,
            user,
            action,
            target=target,
            new=new,
            reason=reason,
            result=result,
        )


def _stamp(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")

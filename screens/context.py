"""What every screen shares: the client, the refresher and the person logged in at this seat."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from PySide6.QtCore import QObject, Signal

from hmi.client import RuntimeClient, Session
from screens.bridge import when_done
from screens.refresh import Refresher

__all__ = ["AppContext"]


class AppContext(QObject):
    """The client, the one refresher, and the session of the person at this seat."""

    session_changed = Signal(object)  # the new Session, or None after logout

    def __init__(
        self, client: RuntimeClient, refresher: Refresher, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.client = client
        self.refresher = refresher
        self._session: Session | None = None

    @property
    def session(self) -> Session | None:
        """The logged-in person (None: nobody; screens show values but offer no action)."""
        return self._session

    def set_session(self, session: Session | None) -> None:
        """Log a person in (or out, with None) at this seat and tell every screen."""
        self._session = session
        self.session_changed.emit(session)

    def may(self, permission: str, area: str = "*") -> bool:
        """True when the person at this seat holds `permission` in `area` (and is unlocked)."""
        session = self._session
        return session is not None and session.may(permission, area)

    def touch(self) -> None:
        """Note operator activity: postpones the idle lock."""
        if self._session is not None:
            self._session.touch()

    def call(
        self,
        future: Future[Any],
        on_result: Callable[[Any], None],
        on_error: Callable[[BaseException], None] | None = None,
        guard: QObject | None = None,
    ) -> None:
        """`when_done` for a request made through the client."""
        when_done(future, on_result, on_error, guard=guard)

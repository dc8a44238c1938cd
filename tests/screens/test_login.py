"""Login, first-start, lock and shift-change dialogs over the real authenticator (SQLite store)."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from hmi.db import create_all, open_database
from hmi.security.auth import Authenticator, Session
from hmi.security.permissions import ANY_AREA, OPERATE, RoleGrant
from hmi.security.store import UserStore
from screens import i18n
from screens.dialogs import FirstStartDialog, LockDialog, LoginDialog
from tests.hmi.test_security_store import ADMIN_PW, FAST, OP_PW, ListAudit, make_store

T = TypeVar("T")


class AuthClient:
    """The security doors of a RuntimeClient over a real Authenticator, answered on a worker."""

    def __init__(self, store: UserStore, audit: ListAudit) -> None:
        self.store = store
        self.auth = Authenticator(store, audit, host="seat-1")
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="conduit-test")

    def _submit(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        return self._pool.submit(fn)

    def login(self, name: str, password: str) -> concurrent.futures.Future[Session]:
        return self._submit(lambda: self.auth.login(name, password))

    def unlock(self, session: Session, password: str) -> concurrent.futures.Future[None]:
        return self._submit(lambda: self.auth.unlock(session, password))

    def switch_user(
        self, session: Session, name: str, password: str
    ) -> concurrent.futures.Future[Session]:
        return self._submit(lambda: self.auth.switch_user(session, name, password))

    def first_start(self) -> concurrent.futures.Future[bool]:
        return self._submit(self.auth.first_start)

    def create_first_admin(
        self, name: str, password: str, full_name: str = ""
    ) -> concurrent.futures.Future[Session]:
        def create() -> Session:  # as InProcessClient.create_first_admin does
            grants = [RoleGrant("administrator", ANY_AREA)]
            self.store.add_user(name, password, grants, by=name, full_name=full_name)
            return self.auth.login(name, password)

        return self._submit(create)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


@pytest.fixture
def audit() -> ListAudit:
    return ListAudit()


@pytest.fixture
def client(tmp_path: Path, audit: ListAudit) -> Iterator[AuthClient]:
    engine = open_database(None, tmp_path)
    create_all(engine)
    c = AuthClient(make_store(engine, audit), audit)
    yield c
    c.close()
    engine.dispose()


@pytest.fixture
def fresh(tmp_path: Path, audit: ListAudit) -> Iterator[AuthClient]:
    engine = open_database(None, tmp_path)
    create_all(engine)
    c = AuthClient(UserStore(engine, audit, params=FAST), audit)
    yield c
    c.close()
    engine.dispose()


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    i18n.set_language("en")
    yield
    i18n.set_language("en")


def type_into(qtbot: QtBot, field: Any, text: str) -> None:
    field.clear()
    qtbot.keyClicks(field, text)


def test_a_wrong_password_shows_the_error_and_the_right_one_returns_the_session(
    qtbot: QtBot, client: AuthClient
) -> None:
    dialog = LoginDialog(client)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.error.isVisible()
    type_into(qtbot, dialog.user, "op")
    type_into(qtbot, dialog.password, "Not-the-password-1")
    qtbot.mouseClick(dialog.login_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(dialog.error.isVisible, timeout=5000)
    assert dialog.error.text() == "Wrong user name or password"
    assert dialog.password.text() == "", "the password is not kept in the field"
    assert dialog.session is None and dialog.isVisible()
    # an unknown user gets the very same words
    type_into(qtbot, dialog.user, "nobody")
    type_into(qtbot, dialog.password, OP_PW)
    dialog.error.clear()
    qtbot.mouseClick(dialog.login_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.error.text() != "", timeout=5000)
    assert dialog.error.text() == "Wrong user name or password"
    type_into(qtbot, dialog.user, "op")
    type_into(qtbot, dialog.password, OP_PW)
    with qtbot.waitSignal(dialog.logged_in, timeout=5000) as signal:
        qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
    session = signal.args[0]
    assert isinstance(session, Session) and session.user == "op"
    assert dialog.session is session and session.may(OPERATE, "SS1")
    assert dialog.result() == LoginDialog.DialogCode.Accepted


def test_the_lockout_is_shown_with_its_end(qtbot: QtBot, client: AuthClient) -> None:
    dialog = LoginDialog(client)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.show()
    for attempt in range(5):
        type_into(qtbot, dialog.user, "op")
        type_into(qtbot, dialog.password, f"Wrong-guess-{attempt}")
        dialog.error.clear()
        qtbot.mouseClick(dialog.login_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: dialog.error.text() != "", timeout=5000)
    assert dialog.error.text().startswith("Account op is locked after too many failed logins")
    i18n.set_language("zh_CN")
    assert "op" in dialog.error.text() and "锁定" in dialog.error.text()
    assert dialog.windowTitle() == "登录"


def test_first_start_creates_the_administrator(qtbot: QtBot, fresh: AuthClient) -> None:
    assert fresh.first_start().result(5)
    dialog = FirstStartDialog(fresh)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.show()
    type_into(qtbot, dialog.user, "anna")
    type_into(qtbot, dialog.full_name, "Anna Li")
    type_into(qtbot, dialog.password, "Plant-Boss-2026!x")
    type_into(qtbot, dialog.repeat, "Plant-Boss-2026!y")
    qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
    assert dialog.error.text() == "The two passwords differ"
    assert fresh.first_start().result(5), "nothing was created"
    # the core's password policy speaks through the dialog
    type_into(qtbot, dialog.password, "short1A")
    type_into(qtbot, dialog.repeat, "short1A")
    qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "at least 10 characters" in dialog.error.text(), timeout=5000)
    assert fresh.first_start().result(5)
    type_into(qtbot, dialog.password, "Plant-Boss-2026!x")
    type_into(qtbot, dialog.repeat, "Plant-Boss-2026!x")
    with qtbot.waitSignal(dialog.created, timeout=5000) as signal:
        qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
    session = signal.args[0]
    assert session.user == "anna" and session.full_name == "Anna Li"
    assert session.may("manage_users", ANY_AREA)
    assert not fresh.first_start().result(5)


def test_the_lock_dialog_unlocks_with_the_right_password_only(
    qtbot: QtBot, client: AuthClient
) -> None:
    session = client.login("op", OP_PW).result(5)
    client.auth.lock(session)
    assert not session.may(OPERATE, "SS1")
    dialog = LockDialog(client, session)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.who.text() == "This seat is locked by Op One (op)"
    type_into(qtbot, dialog.password, "Not-the-password-1")
    qtbot.mouseClick(dialog.unlock_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.error.text() != "", timeout=5000)
    assert dialog.error.text() == "Wrong user name or password"
    assert session.locked and dialog.isVisible()
    type_into(qtbot, dialog.password, OP_PW)
    with qtbot.waitSignal(dialog.unlocked, timeout=5000):
        qtbot.mouseClick(dialog.unlock_button, Qt.MouseButton.LeftButton)
    assert not session.locked and session.may(OPERATE, "SS1")


def test_a_shift_change_logs_the_next_person_in(qtbot: QtBot, client: AuthClient) -> None:
    session = client.login("op", OP_PW).result(5)
    client.auth.lock(session)
    dialog = LockDialog(client, session)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.show()
    type_into(qtbot, dialog.new_user, "admin")
    type_into(qtbot, dialog.new_password, ADMIN_PW)
    with qtbot.waitSignal(dialog.switched, timeout=5000) as signal:
        qtbot.mouseClick(dialog.switch_button, Qt.MouseButton.LeftButton)
    assert signal.args[0].user == "admin" and session.closed
    assert dialog.new_password.text() == ""


def test_every_text_has_a_chinese_translation(qtbot: QtBot, client: AuthClient) -> None:
    i18n.clear_missing()
    i18n.set_language("zh_CN")
    session = client.login("op", OP_PW).result(5)
    for dialog in (
        LoginDialog(client),  # type: ignore[arg-type]
        FirstStartDialog(client),  # type: ignore[arg-type]
        LockDialog(client, session),  # type: ignore[arg-type]
    ):
        qtbot.addWidget(dialog)
        dialog.show()
    assert i18n.missing() == set()

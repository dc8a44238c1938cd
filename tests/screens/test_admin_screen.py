"""Administration screen against a real station (its devices offline: none is needed): users
added, re-roled and disabled through the dialogs as a person types; the audit tab shows it and
verifies the chain; without manage_users the screen offers nothing and the core refuses."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QAbstractItemModel, QPoint, Qt
from PySide6.QtWidgets import QAbstractButton, QCheckBox, QLabel, QLineEdit, QTableView
from pytestqt.qtbot import QtBot
from sqlalchemy import text

from hmi.client import InProcessClient, Session, connect
from hmi.security.errors import AccountDisabled, PermissionRefused
from hmi.security.permissions import RoleGrant, parse_grants
from screens import i18n
from screens.admin import AdminScreen
from screens.admin.audit import COL_ACTION, COL_CHANGE, COL_REASON, COL_TARGET
from screens.admin.dialogs import AddUserDialog, DisableDialog, RequestDialog, RolesDialog
from screens.admin.users import COL_DISABLED, COL_NAME, COL_ROLES, UsersTab
from screens.context import AppContext
from screens.refresh import Refresher
from tests.conftest import demo_copy

pytestmark = pytest.mark.slow

PASSWORDS = {"admin": "Plant-Boss-2026!x", "li.wei": "Valve-Shift-A-77"}
NEW_PASSWORD = "Second-Shift-B-88"
LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InProcessClient]:
    monkeypatch.setenv("CONDUIT_HOME", str(tmp_path / "home"))
    client = connect(demo_copy(tmp_path), simulate=False)
    assert client.station.users is not None
    for name, grants in (("admin", "administrator"), ("li.wei", "operator")):
        client.station.users.add_user(name, PASSWORDS[name], parse_grants(grants), by="test")
    yield client
    client.close()
    i18n.set_language("en")


def login(client: InProcessClient, name: str) -> Session:
    return client.login(name, PASSWORDS[name]).result(timeout=10)


def make(qtbot: QtBot, client: InProcessClient) -> tuple[AdminScreen, AppContext]:
    context = AppContext(client, Refresher(client))
    screen = AdminScreen(context)
    qtbot.addWidget(screen)
    context.setParent(screen)
    screen.resize(1100, 600)
    screen.show()
    qtbot.waitExposed(screen)
    return screen, context


def column(model: QAbstractItemModel, col: int) -> list[str]:
    return [model.index(r, col).data() for r in range(model.rowCount())]


def click_row(qtbot: QtBot, table: QTableView, row: int) -> None:
    rect = table.visualRect(table.model().index(row, 0))
    qtbot.mouseClick(table.viewport(), LEFT, pos=rect.center())


def click(qtbot: QtBot, button: QAbstractButton) -> None:
    qtbot.mouseClick(button, LEFT, pos=QPoint(button.width() // 2, button.height() // 2))


def open_dialog(users: UsersTab) -> RequestDialog | None:
    """The dialog the users tab has open (a call: no narrowing carried over by the checker)."""
    return users.dialog


def role_row(dialog: AddUserDialog | RolesDialog, role: str) -> tuple[QCheckBox, QLineEdit]:
    return dialog.roles.checks[role], dialog.roles.areas[role]


def test_an_administrator_adds_re_roles_and_disables_a_user_and_the_audit_shows_it(
    qtbot: QtBot, client: InProcessClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    screen, context = make(qtbot, client)
    assert screen.denied.isVisible() and not screen.tabs.isVisible()
    context.set_session(login(client, "admin"))
    assert screen.allowed and screen.tabs.isVisible()
    users = screen.users
    qtbot.waitUntil(lambda: column(users.model, COL_NAME) == ["admin", "li.wei"], timeout=5000)
    assert column(users.model, COL_ROLES) == ["administrator", "operator"]

    # Add user…: a password the policy refuses first, then a good one
    click(qtbot, users.add_button)
    dialog = open_dialog(users)
    assert isinstance(dialog, AddUserDialog) and dialog.isVisible()
    qtbot.keyClicks(dialog.name, "zhao.lei")
    qtbot.keyClicks(dialog.full_name, "Zhao Lei")
    qtbot.keyClicks(dialog.passwords.password, "short1")
    qtbot.keyClicks(dialog.passwords.repeat, "short1")
    check, areas = role_row(dialog, "operator")
    click(qtbot, check)
    assert check.isChecked() and areas.isEnabled()
    qtbot.keyClicks(areas, "SS1, SS2")
    click(qtbot, dialog.ok_button)
    qtbot.waitUntil(lambda: "at least 10 characters" in dialog.error.text(), timeout=5000)
    assert dialog.isVisible(), "the dialog stays open to correct the password"
    assert dialog.passwords.password.text() == "" and dialog.passwords.repeat.text() == ""
    assert dialog.passwords.password.echoMode() is dialog.passwords.password.EchoMode.Password
    qtbot.keyClicks(dialog.passwords.password, NEW_PASSWORD)
    qtbot.keyClicks(dialog.passwords.repeat, NEW_PASSWORD + "x")
    click(qtbot, dialog.ok_button)
    assert "differ" in dialog.error.text(), "mismatched passwords are caught at once"
    qtbot.keyClicks(dialog.passwords.password, NEW_PASSWORD)
    qtbot.keyClicks(dialog.passwords.repeat, NEW_PASSWORD)
    click(qtbot, dialog.ok_button)
    qtbot.waitUntil(lambda: "zhao.lei" in column(users.model, COL_NAME), timeout=5000)
    assert open_dialog(users) is None, "the dialog closed (and is deleted)"
    assert users.status.text() == "User zhao.lei added."
    row = column(users.model, COL_NAME).index("zhao.lei")
    assert users.model.index(row, COL_ROLES).data() == "operator (SS1, SS2)"
    assert client.login("zhao.lei", NEW_PASSWORD).result(timeout=10).name == "zhao.lei"

    # Edit roles…: operator in SS2 only, and supervisor everywhere
    click_row(qtbot, users.table, row)
    chosen = users.selected()
    assert chosen is not None and chosen.name == "zhao.lei"
    click(qtbot, users.roles_button)
    roles = open_dialog(users)
    assert isinstance(roles, RolesDialog)
    check, areas = role_row(roles, "operator")
    assert check.isChecked() and areas.text() == "SS1, SS2"
    areas.clear()
    qtbot.keyClicks(areas, "SS2")
    click(qtbot, roles.roles.checks["supervisor"])
    click(qtbot, roles.ok_button)
    qtbot.waitUntil(
        lambda: "supervisor" in (users.model.index(row, COL_ROLES).data() or ""), timeout=5000
    )
    assert users.model.index(row, COL_ROLES).data() == "operator (SS2), supervisor"

    # Disable… with a reason
    click_row(qtbot, users.table, row)
    assert users.disable_button.text() == "Disable…"
    click(qtbot, users.disable_button)
    disable = open_dialog(users)
    assert isinstance(disable, DisableDialog)
    qtbot.keyClicks(disable.reason, "left the company")
    click(qtbot, disable.ok_button)
    qtbot.waitUntil(lambda: users.model.index(row, COL_DISABLED).data() == "disabled", timeout=5000)
    with pytest.raises(AccountDisabled):
        client.login("zhao.lei", NEW_PASSWORD).result(timeout=10)
    click_row(qtbot, users.table, row)
    assert users.disable_button.text() == "Enable…"

    # Audit: the three changes, filtered by action and target; Verify; export
    audit = screen.audit
    screen.tabs.setCurrentWidget(audit)
    qtbot.waitUntil(lambda: "user_disable" in column(audit.model, COL_ACTION), timeout=5000)
    audit.target.clear()
    qtbot.keyClicks(audit.target, "zhao.lei")
    qtbot.keyClicks(audit.action, "user_")
    click(qtbot, audit.search_button)
    qtbot.waitUntil(
        lambda: column(audit.model, COL_ACTION) == ["user_disable", "user_roles", "user_add"],
        timeout=5000,
    )
    assert set(column(audit.model, COL_TARGET)) == {"zhao.lei"}
    changes = dict(
        zip(column(audit.model, COL_ACTION), column(audit.model, COL_CHANGE), strict=True)
    )
    assert changes["user_roles"] == "operator:SS1,SS2 -> operator:SS2 supervisor"
    assert changes["user_disable"] == "enabled -> disabled"
    assert column(audit.model, COL_REASON)[0] == "left the company"
    assert audit.status.text() == "3 records"

    click(qtbot, audit.verify_button)
    qtbot.waitUntil(lambda: audit.verdict.text().startswith("Chain intact"), timeout=10000)
    count = int(re.findall(r"\d+", audit.verdict.text())[0])
    assert count >= 7, "logins and the three user changes were recorded"

    click(qtbot, audit.export_button)
    file_dialog = audit._file_dialog
    assert file_dialog is not None
    target = tmp_path / "audit.csv"
    file_dialog.selectFile(str(target))
    file_dialog.accept()
    qtbot.waitUntil(target.exists, timeout=3000)
    with target.open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert [r["action"] for r in rows] == ["user_disable", "user_roles", "user_add"]
    assert "written to" in audit.status.text()

    # a record edited behind the trail's back: Verify names it, in the alarm colour
    assert client.station.audit is not None
    with client.station.audit.engine.begin() as conn:
        conn.execute(text("UPDATE audit_trail SET reason = 'nothing to see' WHERE seq = 2"))
    click(qtbot, audit.verify_button)
    qtbot.waitUntil(lambda: audit.verdict.text().startswith("1 problem(s)"), timeout=10000)
    assert "edited: seq 2: changed after it was written" in audit.verdict.text()
    assert "background-color" in audit.verdict.styleSheet()

    # no password anywhere in the log
    for password in (*PASSWORDS.values(), NEW_PASSWORD, "short1"):
        assert password not in caplog.text


def test_without_manage_users_nothing_is_offered_and_the_core_refuses_anyway(
    qtbot: QtBot, client: InProcessClient
) -> None:
    screen, context = make(qtbot, client)
    operator = login(client, "li.wei")
    context.set_session(operator)
    assert not screen.allowed
    assert screen.denied.isVisible() and not screen.tabs.isVisible()
    assert screen.denied.text() == "You need the manage_users permission."
    buttons = [b for b in screen.findChildren(QAbstractButton) if b.isVisible()]
    assert buttons == [], "the screen offers nothing"
    assert screen.users.model.rowCount() == 0

    # a forced call is refused by the core, whatever the screen offers
    with pytest.raises(PermissionRefused):
        client.users(operator).result(timeout=10)
    with pytest.raises(PermissionRefused):
        client.add_user(operator, "mallory", NEW_PASSWORD, [RoleGrant("administrator")]).result(
            timeout=10
        )
    with pytest.raises(PermissionRefused):
        client.verify_audit(operator).result(timeout=10)

    # an administrator sees the tabs; after logout the list is gone again
    context.set_session(login(client, "admin"))
    qtbot.waitUntil(lambda: screen.users.model.rowCount() == 2, timeout=5000)
    context.set_session(None)
    assert not screen.allowed and screen.users.model.rowCount() == 0


def test_the_screen_and_its_dialogs_are_translated_to_chinese(
    qtbot: QtBot, client: InProcessClient
) -> None:
    screen, context = make(qtbot, client)
    context.set_session(login(client, "admin"))
    qtbot.waitUntil(lambda: screen.users.model.rowCount() == 2, timeout=5000)
    i18n.clear_missing()
    i18n.set_language("zh_CN")
    assert screen.denied.text() == "需要“用户管理”权限。"
    click(qtbot, screen.users.add_button)
    dialog = screen.users.dialog
    assert isinstance(dialog, AddUserDialog)
    qtbot.keyClicks(dialog.name, "zhao.lei")
    qtbot.keyClicks(dialog.passwords.password, "abcdefghijkl")
    qtbot.keyClicks(dialog.passwords.repeat, "abcdefghijkl")
    click(qtbot, dialog.roles.checks["operator"])
    click(qtbot, dialog.ok_button)
    qtbot.waitUntil(lambda: "两种" in dialog.error.text(), timeout=5000)  # kinds of characters
    assert dialog.roles.checks["operator"].text() == "操作员"
    screen.tabs.setCurrentWidget(screen.audit)
    qtbot.waitUntil(lambda: screen.audit.model.rowCount() > 0, timeout=5000)
    click(qtbot, screen.audit.verify_button)
    qtbot.waitUntil(lambda: screen.audit.verdict.text().startswith("哈希链完整"), timeout=10000)
    for widget in (screen, dialog):
        texts = [
            w.text() for w in widget.findChildren(QLabel) + widget.findChildren(QAbstractButton)
        ]
        assert not [t for t in texts if re.search(r"\b(the|of|and|User|Add)\b", t)], texts
    for model in (screen.users.model, screen.audit.model):
        for c in range(model.columnCount()):
            assert not model.headerData(c, Qt.Orientation.Horizontal).isascii()
            column(model, c)
    assert i18n.missing() == set()

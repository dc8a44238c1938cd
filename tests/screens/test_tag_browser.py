"""Tag browser: filtering as a person types, bad quality shown as BAD, live updates, sorting."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from pytestqt.qtbot import QtBot

from hmi.tags import DataType, Quality, Reason, TagDef, Value
from screens.refresh import Refresher
from screens.tag_browser import COL_NAME, COL_QUALITY, COL_VALUE, TagBrowser
from tests.screens.store_client import StoreClient

TAGS = {
    t.name: t
    for t in (
        TagDef("HS1.TT101", description="Supply temperature", unit="°C", decimals=1),
        TagDef("HS1.TT102", description="Return temperature", unit="°C", decimals=1),
        TagDef("SS1.FT201", description="Primary flow", unit="m³/h", decimals=2),
        TagDef("SS1.PUMP", description="Pump running", type=DataType.BOOL),
    )
}


def shown(browser: TagBrowser, column: int) -> list[str]:
    proxy = browser.proxy
    return [proxy.index(r, column).data() for r in range(proxy.rowCount())]


def make(qtbot: QtBot) -> tuple[TagBrowser, StoreClient, Refresher]:
    client = StoreClient(TAGS)
    browser = TagBrowser(client.tag_defs())
    qtbot.addWidget(browser)
    refresher = Refresher(client, interval_ms=20, parent=browser)
    refresher.subscribe(browser.apply)
    refresher.start()
    browser.show()
    return browser, client, refresher


def test_typing_in_the_filter_keeps_matching_tags(qtbot: QtBot) -> None:
    browser, _, refresher = make(qtbot)
    assert len(shown(browser, COL_NAME)) == 4
    qtbot.keyClicks(browser.filter, "tt10")
    assert shown(browser, COL_NAME) == ["HS1.TT101", "HS1.TT102"]
    assert browser.summary.text().startswith("2 of 4 tags")
    browser.filter.clear()
    qtbot.keyClicks(browser.filter, "PUMP RUN")  # description, any case
    assert shown(browser, COL_NAME) == ["SS1.PUMP"]
    refresher.stop()


def test_live_values_appear_and_bad_quality_is_never_a_number(qtbot: QtBot) -> None:
    browser, client, refresher = make(qtbot)
    client.store.update(
        [
            ("HS1.TT101", Value(92.345, Quality.GOOD, Reason.NONE, 1.0, 1.0)),
            ("SS1.FT201", Value(None, Quality.BAD, Reason.COMM_FAILURE, None, 1.0)),
        ]
    )
    qtbot.waitUntil(lambda: "92.3" in shown(browser, COL_VALUE), timeout=2000)
    values = dict(zip(shown(browser, COL_NAME), shown(browser, COL_VALUE), strict=True))
    qualities = dict(zip(shown(browser, COL_NAME), shown(browser, COL_QUALITY), strict=True))
    assert values["HS1.TT101"] == "92.3"
    assert values["SS1.FT201"] == "BAD"
    assert qualities["SS1.FT201"] == "bad: communication failure"
    assert qualities["HS1.TT101"] == "good"
    assert "bad 3" in browser.summary.text()  # FT201 and the two never-received tags
    refresher.stop()


def test_clicking_the_value_header_sorts_by_value(qtbot: QtBot) -> None:
    browser, client, refresher = make(qtbot)
    client.store.update(
        [
            ("HS1.TT101", Value(90.0, Quality.GOOD, Reason.NONE, 1.0, 1.0)),
            ("HS1.TT102", Value(45.0, Quality.GOOD, Reason.NONE, 1.0, 1.0)),
            ("SS1.FT201", Value(120.0, Quality.GOOD, Reason.NONE, 1.0, 1.0)),
        ]
    )
    qtbot.waitUntil(lambda: "120.00" in shown(browser, COL_VALUE), timeout=2000)
    header = browser.table.horizontalHeader()
    x = header.sectionViewportPosition(COL_VALUE) + 5
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 5))
    numbers = [v for v in shown(browser, COL_VALUE) if v != "BAD"]
    assert numbers == sorted(numbers, key=float) or numbers == sorted(
        numbers, key=float, reverse=True
    )
    assert len(numbers) == 3
    refresher.stop()

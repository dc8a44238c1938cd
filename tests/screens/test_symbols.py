"""Plant symbols: every SVG renders, states look different, bad quality and alarms stand out."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter
from pytestqt.qtbot import QtBot

from screens import theme
from screens.widgets.symbols import (
    ACTIVE,
    INACTIVE,
    Symbols,
    SymbolState,
    UnknownSymbolError,
    render,
)

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = {
    "valve",
    "control_valve",
    "pump",
    "heat_exchanger",
    "boiler",
    "tank",
    "filter",
    "pressure_regulator",
    "flow_meter",
    "heat_meter",
    "temperature_sensor",
    "pressure_sensor",
    "pipe",
    "pipe_elbow",
    "pipe_tee",
}
S = SymbolState
# The states that mean something for each: a valve is never "running", a pump never "open".
VALVE_STATES = [S.NORMAL, S.OPEN, S.CLOSED, S.FAULT, S.BAD_QUALITY]
PUMP_STATES = [S.NORMAL, S.RUNNING, S.STOPPED, S.FAULT, S.BAD_QUALITY]


def image(name: str, state: SymbolState, size: int = 64, priority: int | None = None) -> QImage:
    return (
        Symbols()
        .render(name, state, size, priority)
        .toImage()
        .convertToFormat(QImage.Format.Format_ARGB32)
    )


def painted(img: QImage) -> int:
    return sum(
        1 for x in range(img.width()) for y in range(img.height()) if img.pixelColor(x, y).alpha()
    )


def test_the_whole_set_is_there(qtbot: QtBot) -> None:
    assert set(Symbols().names()) == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_symbol_renders_in_every_state(qtbot: QtBot, name: str) -> None:
    symbols = Symbols()
    for state in SymbolState:
        pixmap = symbols.render(name, state, 64)
        assert not pixmap.isNull()
        img = pixmap.toImage()
        assert painted(img) > 20, (name, state)
        if name == "pipe":
            assert (img.width(), img.height()) == (64, 16)
        else:
            assert (img.width(), img.height()) == (64, 64)


@pytest.mark.parametrize(("name", "states"), [("valve", VALVE_STATES), ("pump", PUMP_STATES)])
def test_each_state_looks_different(qtbot: QtBot, name: str, states: list[SymbolState]) -> None:
    images = {state: image(name, state) for state in states}
    for a, b in itertools.combinations(states, 2):
        assert images[a] != images[b], f"{name}: {a} looks like {b}"


def test_running_and_open_share_one_look_as_do_stopped_and_closed(qtbot: QtBot) -> None:
    # ISA-101 consistency: dark = running/open (energised), light = stopped/closed, everywhere.
    for name in ("valve", "pump"):
        assert image(name, S.RUNNING) == image(name, S.OPEN)
        assert image(name, S.STOPPED) == image(name, S.CLOSED)
        assert image(name, S.NORMAL) != image(name, S.STOPPED)


def test_only_fault_and_bad_quality_bring_colour(qtbot: QtBot) -> None:
    def coloured(img: QImage) -> int:
        return sum(
            1
            for x in range(img.width())
            for y in range(img.height())
            if img.pixelColor(x, y).alpha() and img.pixelColor(x, y).hsvSaturation() > 40
        )

    for state in (S.NORMAL, *ACTIVE, *INACTIVE):
        assert coloured(image("pump", state)) == 0, state
    fault = image("pump", S.FAULT)
    assert fault.pixelColor(32, 32).rgb() == theme.FAULT.rgb() or coloured(fault) > 100
    assert coloured(image("pump", S.BAD_QUALITY)) > 20


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_quality_never_looks_like_a_good_state(qtbot: QtBot, name: str) -> None:
    bad = image(name, S.BAD_QUALITY)
    for state in SymbolState:
        if state is not S.BAD_QUALITY:
            assert bad != image(name, state), (name, state)
    magenta = theme.QUALITY_BAD_BG.rgb()
    assert any(
        bad.pixelColor(x, y).rgb() == magenta and bad.pixelColor(x, y).alpha() == 255
        for x in range(bad.width())
        for y in range(bad.height())
    )


@pytest.mark.parametrize("priority", sorted(theme.PRIORITY))
def test_an_alarm_draws_a_border_in_the_priority_colour(qtbot: QtBot, priority: int) -> None:
    plain = image("valve", S.NORMAL)
    alarmed = image("valve", S.NORMAL, priority=priority)
    colour = theme.PRIORITY[priority].rgb()
    last = 63
    edges = [(0, 0), (32, 0), (last, 20), (last, last), (10, last), (0, 50), (1, 1)]
    for x, y in edges:
        assert plain.pixelColor(x, y).rgb() != colour or plain.pixelColor(x, y).alpha() == 0
        assert alarmed.pixelColor(x, y).rgb() == colour, (x, y)
        assert alarmed.pixelColor(x, y).alpha() == 255
    # the symbol itself is untouched inside the border
    assert alarmed.copy(QRect(4, 4, 56, 56)) == plain.copy(QRect(4, 4, 56, 56))


def test_unknown_symbol_names_the_file_it_looked_for(qtbot: QtBot) -> None:
    symbols = Symbols()
    with pytest.raises(UnknownSymbolError, match=r"gearbox.*symbols[/\\]gearbox\.svg"):
        symbols.render("gearbox", S.NORMAL, 64)
    with pytest.raises(UnknownSymbolError, match="does not exist"):
        symbols.render("../themes/isa101", S.NORMAL, 64)
    with pytest.raises(ValueError, match="priority"):
        symbols.render("valve", S.NORMAL, 64, alarm_priority=9)


def test_pixmaps_are_cached_per_name_state_size_and_priority(qtbot: QtBot) -> None:
    symbols = Symbols()
    first = symbols.render("pump", S.RUNNING, 48, 2)
    assert symbols.render("pump", "running", 48, 2).cacheKey() == first.cacheKey()
    assert symbols.render("pump", S.RUNNING, 48, 1).cacheKey() != first.cacheKey()
    assert symbols.render("pump", S.RUNNING, 32, 2).cacheKey() != first.cacheKey()
    assert render("pump", S.RUNNING, 48).cacheKey() == render("pump", S.RUNNING, 48).cacheKey()
    assert render("pump", S.RUNNING, 96).width() == 96


def test_contact_sheet(qtbot: QtBot) -> None:
    """Every symbol in every state (and one alarm per row) to build/screenshots/symbols.png."""
    symbols = Symbols()
    names = symbols.names()
    columns = [*SymbolState, "alarm 1", "alarm 3"]
    cell, label_w, head_h = 96, 150, 28
    sheet = QImage(
        label_w + cell * len(columns), head_h + cell * len(names), QImage.Format.Format_RGB32
    )
    sheet.fill(theme.BACKGROUND)
    painter = QPainter(sheet)
    painter.setFont(QFont("DejaVu Sans", 8))
    painter.setPen(theme.TEXT)
    for c, column in enumerate(columns):
        rect = QRect(label_w + c * cell, 0, cell, head_h)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, str(column))
    for r, name in enumerate(names):
        top = head_h + r * cell
        painter.drawText(QRect(6, top, label_w - 6, cell), Qt.AlignmentFlag.AlignVCenter, name)
        for c, column in enumerate(columns):
            if column == "alarm 1":
                pixmap = symbols.render(name, S.NORMAL, 64, 1)
            elif column == "alarm 3":
                pixmap = symbols.render(name, S.STOPPED, 64, 3)
            else:
                pixmap = symbols.render(name, SymbolState(column), 64)
            x = label_w + c * cell + (cell - pixmap.width()) // 2
            y = top + (cell - pixmap.height()) // 2
            painter.drawPixmap(x, y, pixmap)
    painter.end()
    out = ROOT / "build" / "screenshots" / "symbols.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    assert sheet.save(str(out))
    assert QColor(QImage(str(out)).pixelColor(1, 1)).rgb() == theme.BACKGROUND.rgb()

"""Plant screens from the project's screens/*.toml: the demo screens, a good screen, and every
kind of mistake reported with file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

import drivers
from hmi.project import load_project
from hmi.resources import demo_project
from hmi.screen_config import Caption, Link, Pipe, Readout, ScreenDef, SymbolDef, Text
from hmi.tags import SourceRef
from tests.hmi.test_project import problems, write

PROJECT = '[project]\nname = "Screens"\n'
DEVICES = '[PLC1]\ndriver = "fake"\n'
TAGS = """\
[[tag]]
name = "SS1.ZT301"
address = "fake://PLC1/1/ir/0"
unit = "%"

[[tag]]
name = "SS1.ZC301"
address = "fake://PLC1/1/hr/0"
unit = "%"
writable = true

[[tag]]
name = "SS1.ZA301"
address = "fake://PLC1/1/di/0"

[[tag]]
name = "SS1.YS301"
address = "fake://PLC1/1/di/1"

[[tag]]
name = "SS1.FT201"
address = "fake://PLC1/1/ir/1"
type = "float"
unit = "kg/s"

[[tag]]
name = "SS1.MODE"
address = "fake://PLC1/1/ir/2"
type = "string"
"""

OVERVIEW = """\
[screen]
title = { en = "Overview", zh_CN = "总览" }
size = [800, 600]
order = 1
area = "SS1"

[[symbol]]
id = "SS1.TV301"
symbol = "control_valve"
at = [100, 120]
size = [48, 48]
rotate = 90
label = { en = "Control valve", zh_CN = "调节阀" }
state = "SS1.ZT301"
fault = "SS1.ZA301"
values = ["SS1.ZT301"]
commands = ["SS1.ZC301"]
trend = ["SS1.ZT301", "SS1.FT201"]

[[symbol]]
id = "SS1.P301"
symbol = "pump"
at = [300, 120]
state = "SS1.YS301"
area = "PUMPS"

[[value]]
tag = "SS1.FT201"
at = [40, 40]
label = "Flow"

[[pipe]]
points = [[0, 144], [100, 144]]
flow = "SS1.FT201"
min_flow = 0.5
line = "return"

[[text]]
text = { en = "Substation 1", zh_CN = "1号换热站" }
at = [20, 10]

[[link]]
screen = "detail"
at = [600, 20]
label = { en = "Detail", zh_CN = "详情" }
"""

DETAIL = """\
[[text]]
text = "Detail"
at = [10, 10]
"""


@pytest.fixture(autouse=True)
def fake_drivers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register the test driver as scheme 'fake'."""
    monkeypatch.setitem(drivers.SCHEMES, "fake", "tests.hmi.fake_driver:FakeDriver")


def project(tmp_path: Path, screens: dict[str, str]) -> Path:
    files = {"project.toml": PROJECT, "devices.toml": DEVICES, "tags.toml": TAGS}
    files.update({f"screens/{name}.toml": text for name, text in screens.items()})
    return write(tmp_path, files)


def test_the_demo_screens_load_and_bind_real_tags() -> None:
    demo = load_project(demo_project())
    screens = demo.screens
    assert sorted(screens) == ["gasgate", "overview", "ss1", "ss2", "ss3", "ss4"]
    names = ("overview", "ss1", "ss2", "ss3", "ss4", "gasgate")
    assert [screens[n].order for n in names] == [1, 2, 3, 4, 5, 6]
    assert screens["overview"].title == Text("Heating overview", "供热总览")
    assert screens["gasgate"].title.zh_CN == "门站"
    for screen in screens.values():
        assert screen.tags <= demo.tags.keys(), screen.name
        for symbol in screen.symbols:
            assert all(demo.tags[c].writable for c in symbol.commands), symbol.id
        assert all(link.screen in screens for link in screen.links)
        assert all(s.label.zh_CN for s in screen.symbols), screen.name
    overview = screens["overview"]
    valves = [s for s in overview.symbols if s.symbol == "control_valve"]
    assert [v.id for v in valves] == ["SS1.TV301", "SS2.TV301", "SS3.TV301", "SS4.TV301"]
    assert valves[2].commands == ("SS3.ZC301", "SS3.TIC301_AUTO")
    assert {p.flow for p in overview.pipes} >= {"HS1.FT101", "HS1.FT110"}
    assert len(overview.tags) > 60


def test_a_screen_is_read_into_its_definition(tmp_path: Path) -> None:
    root = project(tmp_path, {"overview": OVERVIEW, "detail": DETAIL})
    screens = load_project(root).screens
    assert list(screens) == ["detail", "overview"]
    detail = screens["detail"]
    assert detail.title == Text("detail")  # no [screen] table: the file name, default size
    assert detail.size == (1600.0, 900.0) and detail.order == 100
    overview = screens["overview"]
    assert overview == ScreenDef(
        name="overview",
        title=Text("Overview", "总览"),
        size=(800.0, 600.0),
        order=1,
        area="SS1",
        symbols=(
            SymbolDef(
                id="SS1.TV301",
                symbol="control_valve",
                at=(100.0, 120.0),
                size=(48.0, 48.0),
                rotate=90,
                label=Text("Control valve", "调节阀"),
                state="SS1.ZT301",
                fault="SS1.ZA301",
                values=("SS1.ZT301",),
                commands=("SS1.ZC301",),
                trend=("SS1.ZT301", "SS1.FT201"),
                area="SS1",  # the screen's
            ),
            SymbolDef(
                id="SS1.P301", symbol="pump", at=(300.0, 120.0), state="SS1.YS301", area="PUMPS"
            ),
        ),
        values=(Readout("SS1.FT201", (40.0, 40.0), Text("Flow")),),
        pipes=(Pipe(((0.0, 144.0), (100.0, 144.0)), "SS1.FT201", 0.5, "return"),),
        texts=(Caption(Text("Substation 1", "1号换热站"), (20.0, 10.0)),),
        links=(Link("detail", (600.0, 20.0), Text("Detail", "详情")),),
    )
    assert overview.symbols[1].source == SourceRef("screens/overview.toml", 20)
    assert overview.tags == {"SS1.ZT301", "SS1.ZA301", "SS1.ZC301", "SS1.FT201", "SS1.YS301"}


def test_a_project_without_a_screens_folder_has_no_screens(tmp_path: Path) -> None:
    assert load_project(project(tmp_path, {})).screens == {}


BROKEN = """\
[screen]
titel = "Overview"
size = [800]
order = "first"

[[symbol]]
id = "SS1.TV301"
symbol = "control_valv"
at = [100, "y"]
rotate = 45
state = "SS1.ZT999"
commands = ["SS1.ZT301"]
label = { en = "Valve", de = "Ventil" }

[[symbol]]
id = "SS1.TV301"
symbol = "pump"
at = [10, 10]
fault = "SS1.FT201"
values = "SS1.FT201"
colour = "red"

[[value]]
tag = "SS1.FT201"
at = [10, 20, 30]

[[pipe]]
points = [[0, 0], [10]]
line = "steam"
min_flow = -1

[[text]]
at = [1, 2]

[[link]]
screen = "detial"
at = [1, 2]

[[symbols]]
id = "x"
"""


def test_every_mistake_is_reported_with_file_line_and_field(tmp_path: Path) -> None:
    root = project(tmp_path, {"overview": BROKEN, "detail": DETAIL})
    f = "screens/overview.toml"
    assert problems(root) == [
        f"{f}:2: [screen]: titel: unknown key (did you mean 'title'?)",
        f"{f}:3: [screen]: size: expected a pair of numbers such as [48, 48], got [800]",
        f"{f}:4: [screen]: order: expected an integer, got 'first' (text)",
        f"{f}:8: symbol SS1.TV301: symbol: unknown symbol 'control_valv' "
        "(did you mean 'control_valve'?)",
        f"{f}:9: symbol SS1.TV301: at: expected a pair of numbers such as [120, 80], "
        "got [100, 'y']",
        f"{f}:10: symbol SS1.TV301: rotate: must be 0, 90, 180 or 270, got 45",
        f"{f}:11: symbol SS1.TV301: state: unknown tag 'SS1.ZT999' (did you mean 'SS1.ZT301'?)",
        f"{f}:12: symbol SS1.TV301: commands: SS1.ZT301 is not writable (writable = true)",
        f"{f}:13: symbol SS1.TV301: label: unknown language 'de' (expected one of en, zh_CN)",
        f"{f}:16: symbol SS1.TV301: id: duplicate symbol id 'SS1.TV301' (first at line 6)",
        f"{f}:19: symbol SS1.TV301: fault: SS1.FT201 is float; a fault is a bool tag",
        f"{f}:20: symbol SS1.TV301: values: expected an array of tag names, "
        """e.g. ["HS1.TT101", "HS1.TT102"], got 'SS1.FT201' (text)""",
        f"{f}:21: symbol SS1.TV301: colour: unknown key (expected one of id, symbol, at, size, "
        "rotate, label, state, fault, values, commands, trend, area)",
        f"{f}:25: value SS1.FT201: at: expected a pair of numbers such as [120, 80], "
        "got [10, 20, 30]",
        f"{f}:28: pipe #1: points: point 2 is not a pair of numbers [x, y]: [10]",
        f"{f}:29: pipe #1: line: unknown line 'steam' (expected one of supply, return, gas, "
        "water, signal)",
        f"{f}:30: pipe #1: min_flow: must not be negative, got -1",
        f"{f}:30: pipe #1: min_flow: only used with flow",
        f'{f}:32: text #1: text: missing (text = {{ en = "...", zh_CN = "..." }})',
        f"{f}:36: link detial: screen: no screen 'detial' (did you mean 'detail'?)",
        f"{f}:39: symbols: unknown key (did you mean 'symbol'?)",
    ]


def test_a_screen_with_a_syntax_error_names_its_line(tmp_path: Path) -> None:
    root = project(tmp_path, {"overview": '[screen]\ntitle = "Overview\n'})
    assert problems(root) == [
        "screens/overview.toml:2: TOML syntax error at column 18: the line ends inside a "
        "string (missing closing quote?)"
    ]


def test_wrong_tables_and_text_state_tags_are_reported(tmp_path: Path) -> None:
    text = (
        'screen = "overview"\n\n[symbol]\nid = "a"\n\n'
        '[[value]]\nat = [1, 2]\n\n[[pipe]]\npoints = [[0, 0], [1, 1]]\nflow = "SS1.YS301"\n'
        '\n[[link]]\nat = [0, 0]\nscreen = "nowhere"\n'
    )
    extra = '[[symbol]]\nid = "m"\nsymbol = "pump"\nat = [0, 0]\nstate = "SS1.MODE"\n'
    root = project(tmp_path, {"a": text, "b": extra})
    assert problems(root) == [
        "screens/a.toml:1: screen: expected a table [screen], got 'overview' (text)",
        "screens/a.toml:3: symbol: write each as [[symbol]] (an array of tables), not [symbol]",
        'screens/a.toml:6: value #1: tag: missing (tag = "HS1.TT101", the tag shown)',
        "screens/a.toml:11: pipe #1: flow: SS1.YS301 is bool; a flow is a number tag",
        "screens/a.toml:15: link nowhere: screen: no screen 'nowhere' (expected one of a, b)",
        "screens/b.toml:5: symbol m: state: SS1.MODE is text; a state is a bool or a "
        "0-100 % position",
    ]

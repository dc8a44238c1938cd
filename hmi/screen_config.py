"""Plant screens stored in the project: what a diagram shows and what each symbol binds to.

A project's `screens/` folder holds one TOML file per screen (the screen editor writes them;
the demo ships hand-made ones). The format, in short:

    [screen]
    title = { en = "Heating overview", zh_CN = "供热总览" }
    size = [1600, 900]        # the drawing's extent in scene units (pixels at 100 %)
    order = 1                 # position in the navigation (lower first)
    area = "HS1"              # default area of its symbols (commands and alarms)

    [[symbol]]                # a plant item drawn with an SVG from resources/symbols
    id = "SS1.TV301"          # unique on the screen; the faceplate's title
    symbol = "control_valve"
    at = [420, 310]           # top-left corner
    size = [48, 48]           # optional; the symbol's own size
    rotate = 0                # 0, 90, 180 or 270
    label = { en = "Control valve", zh_CN = "调节阀" }
    state = "SS1.ZT301"       # bool (running/open) or a 0-100 % position
    fault = "SS1.ZA301"       # optional bool tag: equipment fault
    values = ["SS1.ZT301"]    # tags shown next to the symbol and on its faceplate
    commands = ["SS1.ZC301", "SS1.TIC301_AUTO"]   # writable tags the faceplate commands
    trend = ["SS1.ZT301", "SS1.TT301"]             # the faceplate's one-hour mini trend
    area = "SS1"

    [[value]]                 # a live read-out: value and unit, bad quality marked
    tag = "HS1.TT101"
    at = [200, 120]
    label = { en = "Supply", zh_CN = "供水" }

    [[pipe]]                  # a polyline; shows flow direction while `flow` is above `min_flow`
    points = [[100, 200], [400, 200], [400, 300]]
    flow = "HS1.FT101"
    min_flow = 0.5
    line = "supply"           # supply, return, gas, water, signal

    [[text]]                  # a static caption
    text = { en = "Primary network", zh_CN = "一次网" }
    at = [40, 20]

    [[link]]                  # a button opening another screen
    screen = "ss1"
    at = [560, 400]
    label = { en = "Substation 1", zh_CN = "1号换热站" }

A screen's name is its file name without `.toml`. Plain data; `screen_read` parses and checks it
(every mistake with file, line and field) and `screens/diagram/` (`DiagramView`) draws it;
docs/screens.md describes the format.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hmi.tags import SourceRef

__all__ = [
    "LINE_KINDS",
    "Caption",
    "Link",
    "Pipe",
    "Readout",
    "ScreenDef",
    "SymbolDef",
    "Text",
]

LINE_KINDS = ("supply", "return", "gas", "water", "signal")


@dataclass(frozen=True, slots=True)
class Text:
    """A text in English and Chinese; `get` falls back to English."""

    en: str
    zh_CN: str = ""

    def get(self, language: str) -> str:
        """The text in `language` ("en" or "zh_CN")."""
        return (self.zh_CN or self.en) if language == "zh_CN" else self.en


@dataclass(frozen=True, slots=True)
class SymbolDef:
    """One plant item on a screen and the tags it binds."""

    id: str
    symbol: str
    at: tuple[float, float]
    size: tuple[float, float] | None = None
    rotate: int = 0
    label: Text = Text("")
    state: str = ""
    fault: str = ""
    values: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    trend: tuple[str, ...] = ()
    area: str = ""
    source: SourceRef = field(default_factory=SourceRef, compare=False)

    @property
    def tags(self) -> tuple[str, ...]:
        """Every tag the symbol shows (state, fault, values, commands, trend), once each."""
        seen = dict.fromkeys(
            t for t in (self.state, self.fault, *self.values, *self.commands, *self.trend) if t
        )
        return tuple(seen)


@dataclass(frozen=True, slots=True)
class Readout:
    """A live value with its unit at a place on the screen."""

    tag: str
    at: tuple[float, float]
    label: Text = Text("")
    source: SourceRef = field(default_factory=SourceRef, compare=False)


@dataclass(frozen=True, slots=True)
class Pipe:
    """A pipe drawn through `points`; flowing while |flow| > min_flow (direction by sign)."""

    points: tuple[tuple[float, float], ...]
    flow: str = ""
    min_flow: float = 0.0
    line: str = "supply"
    source: SourceRef = field(default_factory=SourceRef, compare=False)


@dataclass(frozen=True, slots=True)
class Caption:
    """A static text on the screen."""

    text: Text
    at: tuple[float, float]
    source: SourceRef = field(default_factory=SourceRef, compare=False)


@dataclass(frozen=True, slots=True)
class Link:
    """A button that opens another screen."""

    screen: str
    at: tuple[float, float]
    label: Text = Text("")
    source: SourceRef = field(default_factory=SourceRef, compare=False)


@dataclass(frozen=True, slots=True)
class ScreenDef:
    """One plant screen: its title, extent and items."""

    name: str
    title: Text
    size: tuple[float, float]
    order: int = 100
    area: str = ""
    symbols: tuple[SymbolDef, ...] = ()
    values: tuple[Readout, ...] = ()
    pipes: tuple[Pipe, ...] = ()
    texts: tuple[Caption, ...] = ()
    links: tuple[Link, ...] = ()
    source: SourceRef = field(default_factory=SourceRef, compare=False)

    @property
    def tags(self) -> frozenset[str]:
        """Every tag the screen shows: what a refresh must update while it is visible."""
        out: set[str] = set()
        for s in self.symbols:
            out.update(s.tags)
        out.update(r.tag for r in self.values)
        out.update(p.flow for p in self.pipes if p.flow)
        return frozenset(out)

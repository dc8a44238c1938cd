"""A large made-up screen for the benchmark: one live symbol per tag on a grid, pipes per row.

No Qt and no files: `grid_screen` returns a `ScreenDef` whose every symbol shows one tag as its
state and value, and whose rows are joined by a pipe that shows the flow of the row's first tag.
"""

from __future__ import annotations

from collections.abc import Sequence

from hmi.screen_config import Caption, Pipe, ScreenDef, SymbolDef, Text

__all__ = ["CELL", "grid_screen"]

CELL = (120.0, 90.0)  # width and height of one grid cell in scene units
SYMBOLS = ("pump", "control_valve", "valve", "heat_exchanger", "flow_meter")
SIZE = 40.0


def grid_screen(tags: Sequence[str], columns: int = 20, name: str = "grid") -> ScreenDef:
    """A screen with a symbol per tag, `columns` to a row (each row joined by a pipe)."""
    if columns < 1:
        raise ValueError(f"columns must be at least 1, got {columns}")
    symbols: list[SymbolDef] = []
    pipes: list[Pipe] = []
    width, height = CELL
    top = 50.0
    for index, tag in enumerate(tags):
        row, column = divmod(index, columns)
        x, y = 20 + column * width, top + row * height
        symbols.append(
            SymbolDef(
                id=f"S{index}",
                symbol=SYMBOLS[index % len(SYMBOLS)],
                at=(x, y),
                size=(SIZE, SIZE),
                label=Text(f"Item {index}", f"设备 {index}"),
                state=tag,
                values=(tag,),
                trend=(tag,),
            )
        )
        if column == 0:
            in_row = min(columns, len(tags) - index)
            line_y = y + SIZE / 2
            end = 20 + (in_row - 1) * width + SIZE
            pipes.append(Pipe(((10.0, line_y), (end + 10.0, line_y)), flow=tag, min_flow=1.0))
    rows = (len(tags) + columns - 1) // columns
    size = (40 + columns * width, top + max(rows, 1) * height + 20)
    title = Caption(Text("Synthetic grid", "测试网格"), (20.0, 10.0))
    return ScreenDef(
        name=name,
        title=Text("Synthetic grid", "测试网格"),
        size=size,
        symbols=tuple(symbols),
        pipes=tuple(pipes),
        texts=(title,),
    )

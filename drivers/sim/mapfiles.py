"""Files generated from the register map: the Markdown register map and the demo project.

Owns the derived (calculated) tags of the demo, the TOML of its tags and devices, and the text
of docs/register-map.md. Everything here is a pure function of `drivers.sim.registers`, so the
committed files are compared with it in a test and never drift from the servers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from drivers.sim.demo_alarms import alarm_lines, alarms_markdown, check_lines, command_lines
from drivers.sim.registers import (
    DEMO_BASE_PORT,
    METER_UNIT,
    PLC_UNIT,
    REGISTERS,
    SOURCE,
    STATIONS,
    SUBSTATIONS,
    TABLES,
    Register,
    device_of,
)


@dataclass(frozen=True, slots=True)
class Derived:
    """A derived (calculated) tag of the demo project."""

    name: str
    expr: str
    description: str
    unit: str
    decimals: int = 1


def _sum(point: str) -> str:
    return " + ".join(f"{ss}.{point}" for ss in SUBSTATIONS)


def _nested(func: str, point: str) -> str:
    a, b, c, d = (f"{ss}.{point}" for ss in SUBSTATIONS)
    return f"{func}({func}({a}, {b}), {func}({c}, {d}))"


def _derived() -> tuple[Derived, ...]:
    heat = _sum("JT210")
    out = [Derived("HS1.DT", "HS1.TT101 - HS1.TT102", "Plant supply − return temperature", "K")]
    for ss in SUBSTATIONS:
        out.append(
            Derived(
                f"{ss}.DT", f"{ss}.TT201 - {ss}.TT202", "Primary supply − return temperature", "K"
            )
        )
        out.append(
            Derived(
                f"{ss}.DT_APPROACH",
                f"{ss}.TT202 - {ss}.TT302",
                "Exchanger approach: primary return − secondary return",
                "K",
            )
        )
        out.append(
            Derived(
                f"{ss}.DP1",
                f"{ss}.PT201 - {ss}.PT202",
                "Primary differential pressure, supply − return",
                "bar",
                2,
            )
        )
    out += [
        Derived(
            "NET.HEAT_SUBSTATIONS", heat, "Heat delivered to all substations (meters)", "kW", 0
        ),
        Derived(
            "NET.HEAT_LOSS",
            f"HS1.JT101 - ({heat})",
            "Network heat loss: source output − substation meters",
            "kW",
            0,
        ),
        Derived(
            "NET.LOSS_PCT",
            f"100 * (HS1.JT101 - ({heat})) / HS1.JT101 if HS1.JT101 > 100 else 0",
            "Network heat loss as a share of the source output",
            "%",
        ),
        Derived(
            "NET.FLOW_IMBALANCE",
            f"HS1.FT101 - ({_sum('FT201')})",
            "Network mass imbalance: source flow − substation flows (leak indicator)",
            "kg/s",
            2,
        ),
        Derived("NET.MIN_ROOM", _nested("min", "TT401"), "Coldest reference room", "°C"),
        Derived(
            "NET.MAX_VALVE",
            _nested("max", "ZT301"),
            "Most open control valve (differential pressure reserve)",
            "%",
        ),
    ]
    return tuple(out)


DERIVED: tuple[Derived, ...] = _derived()

_GENERATED = "Generated from drivers/sim/registers.py by `python -m drivers.sim --write-generated`."


def _toml_str(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _toml_num(value: float) -> str:
    return repr(float(value))


def demo_tags_toml() -> str:
    """The demo project's tags.toml: every register as a tag, then the derived tags."""
    lines = [f"# {_GENERATED} Do not edit.", ""]
    for reg in REGISTERS:
        lines += [
            "[[tag]]",
            f"name = {_toml_str(reg.name)}",
            f"description = {_toml_str(reg.description)}",
            f"address = {_toml_str(reg.address)}",
        ]
        if reg.unit:
            lines.append(f"unit = {_toml_str(reg.unit)}")
        lines.append(f"type = {_toml_str(reg.tag_type)}")
        if reg.scale != 1.0:
            lines.append(f"scale = {_toml_num(reg.scale)}")
        if reg.deadband:
            lines.append(f"deadband = {_toml_num(reg.deadband)}")
        lines.append(f"scan = {_toml_str(reg.scan)}")
        if reg.low is not None and reg.high is not None:
            lines.append(f"range = [{_toml_num(reg.low)}, {_toml_num(reg.high)}]")
        if not reg.is_bool:
            lines.append(f"decimals = {reg.decimals}")
        if reg.writable:
            lines.append("writable = true")
        lines += check_lines(reg.name)
        lines += command_lines(reg.name)
        lines += alarm_lines(reg.name)
        lines.append("")
    for d in DERIVED:
        lines += [
            "[[tag]]",
            f"name = {_toml_str(d.name)}",
            f"description = {_toml_str(d.description)}",
            f"expr = {_toml_str(d.expr)}",
            f"unit = {_toml_str(d.unit)}",
            'type = "float"',
            f"decimals = {d.decimals}",
            *alarm_lines(d.name),
            "",
        ]
    return "\n".join(lines)


def demo_devices_toml(base_port: int = DEMO_BASE_PORT, host: str = "127.0.0.1") -> str:
    """The demo project's devices.toml: a Modbus TCP device per station, OPC UA GS1, BROKER1."""
    from drivers.sim.mapfiles_gas import demo_extra_devices

    made = _GENERATED.replace("registers.py", "registers.py and drivers/sim/mapfiles_gas.py")
    lines = [f"# {made} Do not edit.", ""]
    for i, station in enumerate(STATIONS):
        lines += [
            f"[{device_of(station)}]",
            'driver = "modbus"',
            f"host = {_toml_str(host)}",
            f"port = {base_port + i}",
            'timeout = "1s"',
            f"simulate = {_toml_str('heating/' + station)}",
            "",
        ]
    return "\n".join(lines + demo_extra_devices(host))


_STATION_TEXT = {
    SOURCE: "Heat source (boiler house): supply temperature, main pump, pressurisation",
    "SS1": "Substation SS1, residential block, 1.2 MW (node A)",
    "SS2": "Substation SS2, hospital, 2.5 MW (node A)",
    "SS3": "Substation SS3, school, 0.6 MW (node B)",
    "SS4": "Substation SS4, housing estate, 1.8 MW (node B)",
}
_TABLE_TEXT = {
    "ir": "input registers",
    "hr": "holding registers",
    "co": "coils",
    "di": "discrete inputs",
}

_INTRO = """\
# Simulator register map

> {generated}

The district-heating simulator (`drivers/sim`) serves one Modbus TCP server per station. Every
point below is read and written at the offset shown, by any Modbus client; the demo project in
`resources/demo/` declares exactly these points as tags.

## Devices

| Station | Device | Port (demo) | Unit 1 | Unit 2 | What it is |
|---|---|---|---|---|---|
{devices}

A substation's heat meter sits behind the substation PLC's gateway: same TCP connection, unit 2.
Any other unit id is answered with exception 0x0B (gateway target failed to respond).

## Units

Temperatures °C, pressures bar (gauge), flows kg/s (mass flow, both the PLC flow transmitters
and the heat meters), power kW, energy kWh, volume m³, valve positions and pump speeds %.
Temperature differences in the derived tags are in K.

## Encoding

- Offsets are zero-based PDU addresses (input register offset 0 is Modicon 30001).
- `float32` is IEEE 754 in two registers, word order `ABCD` (high word first).
- The counters (`JQ…`, `FQ…`) are `uint32` in word order `CDAB` (low word first), as many heat
  meters send them, truncated (never rounded up) and never decreasing. `FQ210` counts 0.01 m³.
- `uint16` values with scale 0.1 carry one decimal: raw 735 is 73.5 %.
- Coils and discrete inputs are single bits.
- Each table is contiguous from offset 0, so block reads across several points never hit a hole.
- A write outside a setpoint's range is refused with exception 0x03 (illegal data value).

## Tag names

`<station>.<ISA tag>`, ISA-5.1 style: first letter the measured variable (T temperature,
P pressure, PD differential pressure, F flow, J power, S speed, Z position, H hand, Y event or
state), then the function (T transmitter, Y computed value, Q totaliser, IC indicating
controller, C controller, S switch or state, A alarm with H high or L low). Loop numbers:
100–199 heat source, 200–209 substation primary side, 210–219 heat meter, 300–399 secondary
side and its temperature loop, 400 the building. Controller parameters are suffixes:
`_SP` setpoint, `_AUTO` AUTO (1) / MANUAL (0), `_WC` weather compensation on (setpoint from
the heating curve) or off (the `_SP` setpoint).

## The simulated plant

HS1 heats the network water to a weather-compensated setpoint (70 °C at +10 °C outdoor to
120 °C at −20 °C) within a 9 MW burner limit; its main pump holds the plant differential
pressure at `PDIC101_SP`, and the pressurisation holds the return (static) pressure at 3 bar,
replacing lost water with make-up water (`FT102`). Segment N1 (2 km, DN200) runs from HS1 to
node A (SS1, SS2), segment N2 (1.5 km, DN150) from node A to node B (SS3, SS4); every pipe has
transport delay, heat loss to the ground and a pressure drop proportional to the flow squared.
Each substation has an equal-percentage control valve, a plate heat exchanger, a secondary pump
and a building whose heat load follows the outdoor temperature and the time of day. The outdoor
temperature follows a daily cycle (coldest at 05:00, warmest at 15:00) with slow noise.

Faults can be injected at run time (`drivers/sim/faults.py`): a leak on N1 or N2 (the source
flow exceeds the sum of the substation flows, the static pressure falls, `PAL102` below
2.5 bar), a frozen or spiking sensor, a stuck control valve (`ZA301`), and an offline station
(its server closes the listener and every connection, and listens again when the fault is
removed).

## Controls

In AUTO the substation PLC's PI loop moves the valve to hold `TT301` at `TY301` and the
position command `ZC301` tracks the controller output (a write is overwritten); in MANUAL the
valve follows `ZC301`. With the pump off in AUTO the valve is closed (interlock). `ZA301` is
raised when the valve position stays more than 5 % from its command for over 60 s.
"""


def _fmt_range(reg: Register) -> str:
    if reg.low is None or reg.high is None:
        return ""
    return f"{reg.low:g} … {reg.high:g}"


def register_map_markdown() -> str:
    """The register map as Markdown (docs/register-map.md)."""
    devices = "\n".join(
        f"| {st} | {device_of(st)} | {DEMO_BASE_PORT + i} | PLC | "
        f"{'heat meter' if st != SOURCE else '—'} | {_STATION_TEXT[st]} |"
        for i, st in enumerate(STATIONS)
    )
    out = [_INTRO.format(generated=_GENERATED + " Do not edit by hand.", devices=devices)]
    for station in STATIONS:
        out.append(f"## {device_of(station)} — {station}\n")
        for unit_id in (PLC_UNIT, METER_UNIT):
            regs = [r for r in REGISTERS if r.station == station and r.unit_id == unit_id]
            if not regs:
                continue
            what = "PLC" if unit_id == PLC_UNIT else "heat meter"
            out.append(f"### Unit {unit_id} ({what})\n")
            out.append(
                "| Tag | Table | Offset | Type | Order | Scale | Unit | R/W | Range | "
                "Description | Plant attribute |"
            )
            out.append("|---|---|---|---|---|---|---|---|---|---|---|")
            for table in TABLES:
                for r in (r for r in regs if r.table == table):
                    out.append(
                        f"| `{r.name}` | {table} | {r.offset} | {r.dtype} | "
                        f"{'' if r.is_bool else r.order} | {'' if r.scale == 1 else f'{r.scale:g}'}"
                        f" | {r.unit} | {'R/W' if r.writable else 'R'} | {_fmt_range(r)} | "
                        f"{r.description} | `{r.attr}` |"
                    )
            out.append("")
    out.append("## Derived tags of the demo project\n")
    out.append("| Tag | Expression | Unit | Description |")
    out.append("|---|---|---|---|")
    for d in DERIVED:
        out.append(f"| `{d.name}` | `{d.expr}` | {d.unit} | {d.description} |")
    out.append("")
    out.append("## Alarms of the demo project\n")
    out.append(
        "Written into `resources/demo/tags.toml` from `drivers/sim/demo_alarms.py`; at normal "
        "operation none of them fires."
    )
    out.append("")
    out += alarms_markdown([*(r.name for r in REGISTERS), *(d.name for d in DERIVED)])
    out.append("")
    out.append(
        "Plant attribute: the attribute of `Plant.station(<station>)` the point reflects "
        "(`drivers/sim/source.py` for HS1, `drivers/sim/substation.py` for SS1..SS4)."
    )
    tables = ", ".join(f"{k} = {v}" for k, v in _TABLE_TEXT.items())
    out.append(f"Tables: {tables}.")
    return "\n".join(out) + "\n"

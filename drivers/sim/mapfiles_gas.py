"""Files generated from the gas station's point map and the MQTT meter map.

Owns the demo project's gas and meter tags (`resources/demo/tags/gasgate.toml`,
`resources/demo/tags/meters.toml`) with their derived tags, the demo's OPC UA and broker device
tables, and the text of docs/gas-station.md and docs/mqtt-meters.md. Everything here is a pure
function of `drivers.sim.gasgate_points` and `drivers.sim.meters_mqtt`, so the committed files
are compared with it in a test and never drift from the servers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from drivers.sim.demo_alarms import alarm_lines
from drivers.sim.gasgate_points import (
    DEMO_OPCUA_PORT,
    DEVICE,
    GAS_POINTS,
    STATION,
)
from drivers.sim.mapfiles import Derived
from drivers.sim.meters_mqtt import (
    DEMO_BROKER,
    DEMO_MQTT_PORT,
    EDGE_NODE,
    GROUP,
    METER_FIELDS,
    json_topic,
)
from drivers.sim.registers import BY_NAME, SUBSTATIONS

GENERATED_GAS = (
    "Generated from drivers/sim/gasgate_points.py and drivers/sim/meters_mqtt.py by "
    "`python -m drivers.sim --write-generated`."
)
SPB_FIELDS = ("power_kw", "energy_kwh")  # the meter metrics the demo also reads over Sparkplug
_G = STATION

GAS_DERIVED: tuple[Derived, ...] = (
    Derived(f"{_G}.DP_REG", f"{_G}.PT301 - {_G}.PT201", "Pressure drop across the regulators",
            "MPa", 3),
    Derived(f"{_G}.DT_JT", f"{_G}.TT121 - {_G}.TT201",
            "Joule–Thomson cooling across the regulators", "K"),
    Derived(f"{_G}.CONV", f"{_G}.FY301 / {_G}.FT301 if {_G}.FT301 > 1 else 0",
            "Volume conversion factor, base / line conditions", "", 2),
    Derived(f"{_G}.PDT111_NORM",
            f"{_G}.PDT111 * (20000 / {_G}.FY301) ** 2 if {_G}.FY301 > 2000 else 0",
            "Filter differential pressure at 20 000 Nm³/h (clogging, whatever the flow)", "kPa"),
    Derived(f"{_G}.DOSE", f"{_G}.FT401 * 1000 / {_G}.FY301 if {_G}.FY301 > 100 else 0",
            "Odorant dose actually injected", "mg/Nm³"),
    Derived(f"{_G}.ODOR_DAYS",
            f"min({_G}.LY401 * 997 / ({_G}.FT401 * 24), 999) if {_G}.FT401 > 1 else 999",
            "Days of odorant left at the present injection rate (THT, 997 g/L)", "d", 0),
)  # fmt: skip


def _mq(station: str, point: str) -> str:
    return f"{station}.{point}_MQ"


METER_DERIVED: tuple[Derived, ...] = (
    Derived(
        "NET.HEAT_MQTT",
        " + ".join(_mq(ss, "JT210") for ss in SUBSTATIONS),
        "Heat delivered to all substations (meters over MQTT JSON)",
        "kW",
        0,
    ),
    Derived(
        "NET.HEAT_PATHS_DIFF",
        "NET.HEAT_SUBSTATIONS - NET.HEAT_MQTT",
        "Meter sum over Modbus minus meter sum over MQTT (sampling skew)",
        "kW",
        0,
    ),
)


def _s(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _n(value: float) -> str:
    return repr(float(value))


def _tag(
    name: str,
    description: str,
    address: str,
    unit: str,
    tag_type: str,
    *,
    deadband: float = 0.0,
    scan: str = "normal",
    low: float | None = None,
    high: float | None = None,
    decimals: int | None = None,
    writable: bool = False,
) -> list[str]:
    lines = ["[[tag]]", f"name = {_s(name)}", f"description = {_s(description)}"]
    lines.append(f"address = {_s(address)}")
    if unit:
        lines.append(f"unit = {_s(unit)}")
    lines.append(f"type = {_s(tag_type)}")
    if deadband:
        lines.append(f"deadband = {_n(deadband)}")
    lines.append(f"scan = {_s(scan)}")
    if low is not None and high is not None:
        lines.append(f"range = [{_n(low)}, {_n(high)}]")
    if decimals is not None:
        lines.append(f"decimals = {decimals}")
    if writable:
        lines.append("writable = true")
    return [*lines, *alarm_lines(name), ""]


def _derived(items: Iterable[Derived]) -> list[str]:
    lines: list[str] = []
    for d in items:
        lines += ["[[tag]]", f"name = {_s(d.name)}", f"description = {_s(d.description)}"]
        lines += [f"expr = {_s(d.expr)}"]
        if d.unit:
            lines.append(f"unit = {_s(d.unit)}")
        lines += ['type = "float"', f"decimals = {d.decimals}", *alarm_lines(d.name), ""]
    return lines


def demo_gas_tags_toml() -> str:
    """resources/demo/tags/gasgate.toml: every gas station point as a tag, then derived tags."""
    lines = [f"# {GENERATED_GAS} Do not edit.", ""]
    for p in GAS_POINTS:
        lines += _tag(
            p.name,
            p.description,
            p.address,
            p.unit,
            p.tag_type,
            deadband=p.deadband,
            scan=p.scan,
            low=p.low,
            high=p.high,
            decimals=None if p.is_bool else p.decimals,
            writable=p.writable,
        )
    return "\n".join(lines + _derived(GAS_DERIVED))


def mqtt_address(station: str, key: str) -> str:
    """The demo's `mqtt://` address of one JSON meter field (source time from `ts`)."""
    return f"mqtt://{DEMO_BROKER}/{json_topic(station)}?ts=/ts#/{key}"


def spb_address(station: str, key: str) -> str:
    """The demo's `spb://` address of one Sparkplug meter metric."""
    return f"spb://{DEMO_BROKER}/{GROUP}/{EDGE_NODE}/{station}#{key}"


def demo_meter_tags_toml() -> str:
    """resources/demo/tags/meters.toml: the heat meters over MQTT JSON and Sparkplug B."""
    lines = [f"# {GENERATED_GAS} Do not edit.", ""]
    for station in SUBSTATIONS:
        for f in METER_FIELDS:
            reg = BY_NAME[f"{station}.{f.point}"]
            forms = [(_mq(station, f.point), "MQTT JSON", mqtt_address(station, f.key))]
            if f.key in SPB_FIELDS:
                forms.append(
                    (f"{station}.{f.point}_SPB", "Sparkplug B", spb_address(station, f.key))
                )
            for name, how, address in forms:
                lines += _tag(
                    name,
                    f"{f.description} ({how})",
                    address,
                    f.unit,
                    "float",
                    deadband=reg.deadband,
                    low=reg.low,
                    high=reg.high,
                    decimals=reg.decimals,
                )
    return "\n".join(lines + _derived(METER_DERIVED))


def demo_extra_devices(host: str = "127.0.0.1") -> list[str]:
    """devices.toml lines for the gas station's OPC UA server and the MQTT broker."""
    return [
        f"[{DEVICE}]",
        'driver = "opcua"',
        f"host = {_s(host)}",
        f"port = {DEMO_OPCUA_PORT}",
        'timeout = "2s"',
        f"simulate = {_s('gasgate/' + STATION)}",
        "",
        f"[{DEMO_BROKER}]",
        'driver = "mqtt"',
        f"host = {_s(host)}",
        f"port = {DEMO_MQTT_PORT}",
        'simulate = "mosquitto"',
        "",
    ]

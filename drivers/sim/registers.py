"""The heating simulator's register map: one table that the server, the docs and the demo share.

Owns every point of the simulated plant: its tag name, device, Modbus unit, table, offset, data
type and word order, scale, unit, range, noise, and the plant attribute it reflects. Offsets are
assigned here, contiguously per device/unit/table, so the server never has holes. The Markdown
register map and the demo project's tags.toml are generated from this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drivers.modbus.codec import register_count

SOURCE = "HS1"
SUBSTATIONS: tuple[str, ...] = ("SS1", "SS2", "SS3", "SS4")
STATIONS: tuple[str, ...] = (SOURCE, *SUBSTATIONS)
PLC_UNIT = 1
METER_UNIT = 2
TABLES: tuple[str, ...] = ("ir", "hr", "co", "di")


def device_of(station: str) -> str:
    """The project device name that serves `station` (e.g. "PLC_SS1")."""
    return f"PLC_{station}"


@dataclass(frozen=True, slots=True)
class Register:
    """One point of the plant as seen over Modbus."""

    name: str  # tag name, "<station>.<ISA tag>"
    unit_id: int
    table: str  # co di ir hr
    offset: int  # zero-based PDU address
    dtype: str  # float32 uint32 uint16 bool
    attr: str  # attribute path on Plant.station(station)
    description: str
    unit: str = ""
    order: str = "ABCD"
    scale: float = 1.0  # engineering = raw * scale
    low: float | None = None  # physical range
    high: float | None = None
    decimals: int = 1
    deadband: float = 0.0
    noise: float = 0.0  # standard deviation of the measurement noise, engineering units
    scan: str = "normal"
    counter: bool = False  # totaliser: truncated, never decreases

    @property
    def station(self) -> str:
        """Station part of the name ("SS1")."""
        return self.name.split(".", 1)[0]

    @property
    def device(self) -> str:
        """Project device name ("PLC_SS1")."""
        return device_of(self.station)

    @property
    def writable(self) -> bool:
        """True for commands and setpoints (holding registers and coils)."""
        return self.table in ("hr", "co")

    @property
    def is_bool(self) -> bool:
        """True for coils and discrete inputs."""
        return self.table in ("co", "di")

    @property
    def count(self) -> int:
        """Registers (or bits) the point occupies."""
        return 1 if self.is_bool else register_count(self.dtype)

    @property
    def address(self) -> str:
        """Canonical `modbus://` source address of the point."""
        query = []
        if not self.is_bool and self.dtype != "uint16":
            query.append(f"type={self.dtype}")
        if self.order != "ABCD":
            query.append(f"order={self.order}")
        text = f"modbus://{self.device}/{self.unit_id}/{self.table}/{self.offset}"
        return text + ("?" + "&".join(query) if query else "")

    @property
    def tag_type(self) -> str:
        """Engineering type of the tag: bool, int or float."""
        if self.is_bool:
            return "bool"
        if self.dtype == "float32" or self.scale != 1.0:
            return "float"
        return "int"


# fmt: off
# kind -> Register fields: physical range, display, deadband, noise (σ), scan class, encoding
_KINDS: dict[str, dict[str, Any]] = {
    "t":      {"low": 0.0, "high": 150.0, "decimals": 1, "deadband": 0.05, "noise": 0.03},
    "tout":   {"low": -40.0, "high": 50.0, "decimals": 1, "deadband": 0.1, "noise": 0.05,
               "scan": "slow"},
    "troom":  {"low": 0.0, "high": 40.0, "decimals": 1, "deadband": 0.05, "noise": 0.02,
               "scan": "slow"},
    "p":      {"low": 0.0, "high": 16.0, "decimals": 2, "deadband": 0.005, "noise": 0.003},
    "f":      {"low": 0.0, "high": 150.0, "decimals": 2, "deadband": 0.01, "noise": 0.01},
    "fs":     {"low": 0.0, "high": 60.0, "decimals": 2, "deadband": 0.01, "noise": 0.005},
    "jh":     {"low": 0.0, "high": 20000.0, "decimals": 0, "deadband": 1.0, "noise": 2.0},
    "js":     {"low": 0.0, "high": 10000.0, "decimals": 0, "deadband": 0.5, "noise": 0.5},
    "pct":    {"low": 0.0, "high": 100.0, "decimals": 1, "deadband": 0.1, "scan": "fast"},
    "pctx10": {"low": 0.0, "high": 100.0, "decimals": 1, "deadband": 0.1, "scan": "fast",
               "dtype": "uint16", "scale": 0.1},
    "energy": {"low": 0.0, "decimals": 0, "scan": "slow", "counter": True,
               "dtype": "uint32", "order": "CDAB"},
    "volume": {"low": 0.0, "decimals": 2, "scan": "slow", "counter": True,
               "dtype": "uint32", "order": "CDAB", "scale": 0.01},
    "sp_hs":  {"low": 60.0, "high": 130.0, "decimals": 1},
    "sp_ss":  {"low": 20.0, "high": 95.0, "decimals": 1},
    "sp_dp":  {"low": 1.0, "high": 8.0, "decimals": 2},
    "bit":    {"scan": "fast", "decimals": 0},
}

_Spec = tuple[str, str, str, str, str, str]  # tag, table, attr, description, unit, kind

# Offsets are not written here: _build() assigns them in this order, per unit and table.
_SOURCE_POINTS: tuple[_Spec, ...] = (
    ("TT100", "ir", "t_outdoor", "Outdoor temperature", "°C", "tout"),
    ("TT101", "ir", "t_supply", "Supply temperature leaving the plant", "°C", "t"),
    ("TT102", "ir", "t_return", "Return temperature arriving at the plant", "°C", "t"),
    ("PT101", "ir", "p_supply", "Supply pressure at the plant outlet", "bar", "p"),
    ("PT102", "ir", "p_return", "Return (static) pressure at the plant inlet", "bar", "p"),
    ("PDT101", "ir", "dp", "Plant differential pressure, supply − return", "bar", "p"),
    ("FT101", "ir", "flow", "Supply flow leaving the plant", "kg/s", "f"),
    ("FT102", "ir", "makeup_flow", "Make-up water flow (pressurisation)", "kg/s", "fs"),
    ("JT101", "ir", "power_kw", "Heat output to the network", "kW", "jh"),
    ("TY101", "ir", "setpoint_active", "Active supply temperature setpoint", "°C", "t"),
    ("ST101", "ir", "pump_speed", "Main circulation pump speed", "%", "pct"),
    ("JQ101", "ir", "energy_kwh", "Heat energy delivered (counter)", "kWh", "energy"),
    ("FT110", "ir", "flow_node_a", "Flow into segment N2 at node A (network metering point)",
     "kg/s", "f"),
    ("TIC101_SP", "hr", "setpoint",
     "Supply temperature fixed setpoint (weather compensation off)", "°C", "sp_hs"),
    ("PDIC101_SP", "hr", "dp_setpoint", "Plant differential pressure setpoint", "bar", "sp_dp"),
    ("HS101", "co", "pump_cmd", "Main circulation pump run command", "", "bit"),
    ("TIC101_WC", "co", "weather_comp", "Supply setpoint follows the outdoor temperature", "",
     "bit"),
    ("YS101", "di", "pump_running", "Main circulation pump running", "", "bit"),
    ("JAH101", "di", "power_limited", "Burner at maximum power", "", "bit"),
    ("PAL102", "di", "pressure_low", "Return (static) pressure low", "", "bit"),
)

_PLC_POINTS: tuple[_Spec, ...] = (
    ("TT201", "ir", "t1_supply", "Primary supply temperature", "°C", "t"),
    ("TT202", "ir", "t1_return", "Primary return temperature", "°C", "t"),
    ("PT201", "ir", "p1_supply", "Primary supply pressure", "bar", "p"),
    ("PT202", "ir", "p1_return", "Primary return pressure", "bar", "p"),
    ("FT201", "ir", "flow1", "Primary flow", "kg/s", "fs"),
    ("TT301", "ir", "t2_supply", "Secondary supply temperature", "°C", "t"),
    ("TT302", "ir", "t2_return", "Secondary return temperature", "°C", "t"),
    ("FT301", "ir", "flow2", "Secondary flow", "kg/s", "fs"),
    ("PT301", "ir", "p2_supply", "Secondary supply pressure", "bar", "p"),
    ("TY301", "ir", "setpoint_active", "Active secondary supply setpoint", "°C", "t"),
    ("TT401", "ir", "t_room", "Reference room temperature", "°C", "troom"),
    ("ZT301", "ir", "valve_pos", "Control valve position", "%", "pctx10"),
    ("ST301", "ir", "pump_speed", "Secondary pump speed", "%", "pctx10"),
    ("TIC301_SP", "hr", "setpoint",
     "Secondary supply fixed setpoint (weather compensation off)", "°C", "sp_ss"),
    ("ZC301", "hr", "valve_cmd", "Control valve position command (MANUAL; tracks in AUTO)",
     "%", "pctx10"),
    ("SC301", "hr", "pump_speed_sp", "Secondary pump speed setpoint", "%", "pctx10"),
    ("HS301", "co", "pump_cmd", "Secondary pump run command", "", "bit"),
    ("TIC301_AUTO", "co", "auto", "Temperature controller in AUTO (1) or MANUAL (0)", "", "bit"),
    ("TIC301_WC", "co", "weather_comp", "Secondary setpoint follows the heating curve", "", "bit"),
    ("YS301", "di", "pump_running", "Secondary pump running", "", "bit"),
    ("ZA301", "di", "valve_fault", "Control valve fault (position deviates from command)", "",
     "bit"),
)

_METER_POINTS: tuple[_Spec, ...] = (
    ("JT210", "ir", "meter.power_kw", "Heat meter power", "kW", "js"),
    ("FT210", "ir", "meter.flow", "Heat meter flow", "kg/s", "fs"),
    ("TT211", "ir", "meter.t_supply", "Heat meter supply temperature", "°C", "t"),
    ("TT212", "ir", "meter.t_return", "Heat meter return temperature", "°C", "t"),
    ("JQ210", "ir", "meter.energy_kwh", "Heat meter energy (counter)", "kWh", "energy"),
    ("FQ210", "ir", "meter.volume_m3", "Heat meter volume (counter)", "m³", "volume"),
)
# fmt: on


def _build() -> tuple[Register, ...]:
    groups: list[tuple[str, int, tuple[_Spec, ...]]] = [(SOURCE, PLC_UNIT, _SOURCE_POINTS)]
    for ss in SUBSTATIONS:
        groups += [(ss, PLC_UNIT, _PLC_POINTS), (ss, METER_UNIT, _METER_POINTS)]
    out: list[Register] = []
    for station, unit_id, specs in groups:
        next_offset = dict.fromkeys(TABLES, 0)
        for tag, table, attr, description, unit, kind in specs:
            extra = dict(_KINDS[kind])
            dtype = "bool" if table in ("co", "di") else str(extra.pop("dtype", "float32"))
            extra.pop("dtype", None)
            reg = Register(
                f"{station}.{tag}",
                unit_id,
                table,
                next_offset[table],
                dtype,
                attr,
                description,
                unit,
                **extra,
            )
            next_offset[table] += reg.count
            out.append(reg)
    return tuple(out)


REGISTERS: tuple[Register, ...] = _build()
BY_NAME: dict[str, Register] = {r.name: r for r in REGISTERS}


DEMO_BASE_PORT = 15020  # HS1 listens here, SS1..SS4 on the next ports


def register_map_markdown() -> str:
    """The register map as Markdown (the text of docs/register-map.md)."""
    from drivers.sim import mapfiles

    return mapfiles.register_map_markdown()


def demo_tags_toml() -> str:
    """The demo project's tags.toml: every register as a tag, then the derived tags."""
    from drivers.sim import mapfiles

    return mapfiles.demo_tags_toml()

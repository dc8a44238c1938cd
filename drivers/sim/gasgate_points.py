"""The gas gate station's point map: one table that the OPC UA server, the docs and the demo share.

Owns every point of station GS1: its tag name, the OPC UA folder it sits in, its string NodeId,
OPC UA data type, unit, range, noise and the `GasGate` attribute it reflects. The Markdown point
map and the demo project's gas tags are generated from this table, so they never drift from the
server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STATION = "GS1"
DEVICE = "GS1"  # the project device (an OPC UA server) that serves the station
NAMESPACE_URI = "urn:conduit-hmi:sim:gasgate"
FOLDERS: tuple[str, ...] = (
    "Inlet",
    "Filter",
    "Heater",
    "Meter",
    "RunA",
    "RunB",
    "Outlet",
    "Odorizer",
    "ESV",
)
DEMO_OPCUA_PORT = 15030


@dataclass(frozen=True, slots=True)
class GasPoint:
    """One point of the gas station as seen over OPC UA."""

    tag: str  # ISA tag, e.g. "PT101"
    folder: str  # OPC UA folder under GS1
    attr: str  # attribute of GasGate
    description: str
    unit: str = ""
    dtype: str = "Double"  # OPC UA built-in type: Double, Boolean or UInt32
    writable: bool = False
    low: float | None = None  # physical range (for writable points: the accepted range)
    high: float | None = None
    decimals: int = 2
    deadband: float = 0.0
    noise: float = 0.0  # standard deviation of the measurement noise, engineering units
    scan: str = "normal"
    counter: bool = False  # totaliser: never decreases
    meter: bool = False  # part of the flow meter (held by the MeterFrozen fault)

    @property
    def name(self) -> str:
        """Tag name, "GS1.PT101"."""
        return f"{STATION}.{self.tag}"

    @property
    def node_id(self) -> str:
        """The string identifier of the point's NodeId (the part after `s=`)."""
        return self.name

    @property
    def address(self) -> str:
        """Canonical `opcua://` source address: namespace by URI, so indices do not matter."""
        return f"opcua://{DEVICE}/nsu={NAMESPACE_URI};s={self.node_id}"

    @property
    def is_bool(self) -> bool:
        """True for Boolean points."""
        return self.dtype == "Boolean"

    @property
    def tag_type(self) -> str:
        """Engineering type of the tag: bool, int or float."""
        if self.is_bool:
            return "bool"
        return "int" if self.dtype == "UInt32" else "float"


# fmt: off
# kind -> GasPoint fields: range, display, deadband, noise (σ), scan class, type
_KINDS: dict[str, dict[str, Any]] = {
    "p_hi":   {"low": 0.0, "high": 10.0, "decimals": 3, "deadband": 0.001, "noise": 0.0015},
    "p_lo":   {"low": 0.0, "high": 1.6, "decimals": 3, "deadband": 0.0005, "noise": 0.0004},
    "dp":     {"low": 0.0, "high": 250.0, "decimals": 1, "deadband": 0.1, "noise": 0.08},
    "t":      {"low": -40.0, "high": 80.0, "decimals": 1, "deadband": 0.05, "noise": 0.04},
    "kw":     {"low": 0.0, "high": 600.0, "decimals": 0, "deadband": 0.5, "noise": 0.5},
    "pct":    {"low": 0.0, "high": 100.0, "decimals": 1, "deadband": 0.1, "scan": "fast"},
    "q_act":  {"low": 0.0, "high": 5000.0, "decimals": 1, "deadband": 0.2, "noise": 0.4},
    "q_base": {"low": 0.0, "high": 120000.0, "decimals": 0, "deadband": 5.0, "noise": 8.0},
    "q_run":  {"low": 0.0, "high": 120000.0, "decimals": 0, "deadband": 5.0},
    "z":      {"low": 0.5, "high": 1.1, "decimals": 4, "deadband": 0.0001},
    "v_base": {"low": 0.0, "decimals": 1, "scan": "slow", "counter": True},
    "v_act":  {"low": 0.0, "decimals": 0, "scan": "slow", "counter": True, "dtype": "UInt32"},
    "odor_g": {"low": 0.0, "high": 5000.0, "decimals": 0, "deadband": 1.0, "noise": 0.5},
    "litre":  {"low": 0.0, "high": 400.0, "decimals": 1, "deadband": 0.05, "scan": "slow"},
    "sp_p":   {"low": 0.2, "high": 0.45, "decimals": 3},
    "sp_odor": {"low": 5.0, "high": 40.0, "decimals": 1},
    "bit":    {"dtype": "Boolean", "scan": "fast", "decimals": 0},
}

_Spec = tuple[str, str, str, str, str, str, bool]  # tag, folder, attr, description, unit, kind, rw

_SPECS: tuple[_Spec, ...] = (
    ("PT101", "Inlet", "p_in", "Inlet pressure (transmission line side)", "MPa", "p_hi", False),
    ("TT101", "Inlet", "t_in", "Inlet gas temperature", "°C", "t", False),
    ("PDT111", "Filter", "dp_filter", "Inlet filter differential pressure", "kPa", "dp", False),
    ("PDAH111", "Filter", "filter_alarm", "Filter differential pressure high (> 50 kPa)", "",
     "bit", False),
    ("TT121", "Heater", "t_heater", "Gas temperature after the preheater", "°C", "t", False),
    ("JT121", "Heater", "heater_kw", "Preheater heat duty", "kW", "kw", False),
    ("PT301", "Meter", "p_station", "Meter pressure (station section, after the filter)", "MPa",
     "p_hi", False),
    ("TT301", "Meter", "t_in", "Meter gas temperature", "°C", "t", False),
    ("FT301", "Meter", "flow_actual", "Ultrasonic meter flow at line conditions", "m³/h",
     "q_act", False),
    ("FY301", "Meter", "flow_base", "Flow at base conditions (0 °C, 101.325 kPa)", "Nm³/h",
     "q_base", False),
    ("ZY301", "Meter", "z_meter", "Compressibility factor Z at meter conditions", "", "z", False),
    ("FQ301", "Meter", "volume_base", "Volume at base conditions (totaliser)", "Nm³", "v_base",
     False),
    ("FQ302", "Meter", "volume_actual", "Volume at line conditions (totaliser)", "m³", "v_act",
     False),
    ("ZT211", "RunA", "pos_a", "Regulator A opening", "%", "pct", False),
    ("FY211", "RunA", "flow_a", "Run A flow at base conditions", "Nm³/h", "q_run", False),
    ("XS211", "RunA", "ssv_a_open", "Run A slam-shut valve open (trips at 0.46 MPa)", "", "bit",
     False),
    ("YS211", "RunA", "regulating_a", "Run A regulating (carries flow)", "", "bit", False),
    ("ZT221", "RunB", "pos_b", "Regulator B (standby) opening", "%", "pct", False),
    ("FY221", "RunB", "flow_b", "Run B flow at base conditions", "Nm³/h", "q_run", False),
    ("XS221", "RunB", "ssv_b_open", "Run B slam-shut valve open (trips at 0.48 MPa)", "", "bit",
     False),
    ("YS221", "RunB", "regulating_b", "Run B regulating (carries flow)", "", "bit", False),
    ("PT201", "Outlet", "p_out", "Outlet pressure (distribution network)", "MPa", "p_lo", False),
    ("TT201", "Outlet", "t_out", "Outlet gas temperature (after regulation)", "°C", "t", False),
    ("PIC201_SP", "Outlet", "setpoint", "Outlet pressure setpoint (run A; run B 0.025 MPa below)",
     "MPa", "sp_p", True),
    ("LT401", "Odorizer", "level_pct", "Odorant (THT) tank level", "%", "pct", False),
    ("LY401", "Odorizer", "tank_l", "Odorant in the tank", "L", "litre", False),
    ("FT401", "Odorizer", "injection_g_h", "Odorant injection rate", "g/h", "odor_g", False),
    ("FIC401_SP", "Odorizer", "dose_sp", "Odorant dose setpoint", "mg/Nm³", "sp_odor", True),
    ("LAL401", "Odorizer", "level_low", "Odorant tank level low (< 15 %)", "", "bit", False),
    ("XV501_CMD", "ESV", "esv_cmd", "Emergency shut-off valve command: true = open (resets a trip)",
     "", "bit", True),
    ("ZSO501", "ESV", "esv_open", "Emergency shut-off valve open", "", "bit", False),
    ("XA501", "ESV", "esv_tripped", "ESV tripped on outlet pressure high-high (0.50 MPa)", "",
     "bit", False),
)
# fmt: on

_METER_ATTRS = frozenset({"flow_actual", "flow_base", "volume_base", "volume_actual", "z_meter"})


def _build() -> tuple[GasPoint, ...]:
    out = []
    for tag, folder, attr, description, unit, kind, writable in _SPECS:
        fields = dict(_KINDS[kind])
        out.append(
            GasPoint(
                tag,
                folder,
                attr,
                description,
                unit,
                writable=writable,
                meter=attr in _METER_ATTRS,
                **fields,
            )
        )
    return tuple(out)


GAS_POINTS: tuple[GasPoint, ...] = _build()
GAS_BY_NAME: dict[str, GasPoint] = {p.name: p for p in GAS_POINTS}

"""The Markdown of docs/gas-station.md and docs/mqtt-meters.md, generated from the point maps.

Pure functions of `drivers.sim.gasgate_points`, `drivers.sim.gasgate` (sizes and settings),
`drivers.sim.meters_mqtt` and `drivers.sim.mapfiles_gas` (derived tags and demo addresses).
"""

from __future__ import annotations

from drivers.sim.demo_alarms import alarms_markdown
from drivers.sim.gasgate import GasGateConfig
from drivers.sim.gasgate_points import (
    DEMO_OPCUA_PORT,
    DEVICE,
    FOLDERS,
    GAS_POINTS,
    NAMESPACE_URI,
    STATION,
    GasPoint,
)
from drivers.sim.mapfiles_gas import (
    GAS_DERIVED,
    GENERATED_GAS,
    METER_DERIVED,
    SPB_FIELDS,
    mqtt_address,
    spb_address,
)
from drivers.sim.meters_mqtt import (
    DEMO_BROKER,
    DEMO_MQTT_PORT,
    EDGE_NODE,
    GROUP,
    JSON_PREFIX,
    METER_FIELDS,
    alias_of,
    json_topic,
)
from drivers.sim.registers import SUBSTATIONS

_C = GasGateConfig()

_GAS_INTRO = f"""\
# Gas gate station GS1: OPC UA point map

> {GENERATED_GAS} Do not edit by hand.

The gas gate station simulator (`drivers/sim/gasgate.py`) is served by a real OPC UA server
(`drivers/sim/opcua_serve.py`, asyncua, Security None, anonymous) on 127.0.0.1; the demo
project declares device `{DEVICE}` (port {DEMO_OPCUA_PORT}, `simulate = "gasgate/{STATION}"`) and
every point below as a tag in `resources/demo/tags/gasgate.toml`.

## Address space

- Namespace URI `{NAMESPACE_URI}` (index 2 on this server; tags use `nsu=` so the index
  does not matter). The server's application URI is `{NAMESPACE_URI}:server`.
- Objects → `{STATION}` → one folder per station part ({", ".join(FOLDERS)}) → one variable
  per point, NodeId `ns=<idx>;s=<tag>` (e.g. `ns=2;s=GS1.PT101`), browse name the ISA tag.
- Each variable has its DataType (Double, Boolean, UInt32), a Description, and the properties
  `EngineeringUnits` (UNECE codes; Nm³ as m³, units without a code with UnitId −1) and `EURange`.
- Values carry the SourceTimestamp of their last change; a value that does not change (a
  frozen meter) keeps its old timestamp.
- Writable: the setpoints and the ESV command. A write outside the range is refused with
  BadOutOfRange and changes nothing.

## Units

Pressures MPa gauge (the filter differential pressure kPa), temperatures °C, flows m³/h at
line conditions or Nm³/h at base conditions (0 °C, 101.325 kPa), volumes m³ / Nm³, heater duty
kW, odorant g/h, mg/Nm³ and litres, valve openings %.

## The simulated station

Gas from a transmission line at about {_C.p_in_mean:g} MPa (slow variation, lower at the demand
peaks) passes the inlet emergency shut-off valve (ESV), a filter, the ultrasonic meter with its
flow computer, a water-bath preheater and then one of two pressure-regulator runs into a
distribution network held at about {_C.setpoint:g} MPa. Town demand follows the time of day
(low at night, peaks at 08:00 and 19:30, mean {_C.q_mean:,.0f} Nm³/h) with slow noise, and falls
in proportion below {_C.p_service_min:g} MPa; the outlet pressure integrates supply minus demand
over the network's linepack ({_C.linepack_m3:,.0f} m³).

- **Filter**: ΔP = {_C.filter_dp_clean:g} kPa × resistance × (flow / {_C.q_mean:,.0f})² × line density
  ratio; the resistance grows with throughput (dust load), `PDAH111` above
  {_C.filter_alarm_kpa:g} kPa.
- **Regulators**: pilot regulators with droop (fully open {_C.prop_band * 1000:g} kPa below
  their setpoint) and a {_C.regulator_tau:g} s lag; choked flow through the valve. Run A regulates
  at `PIC201_SP`, run B is on standby {_C.standby_offset * 1000:g} kPa lower and takes over when
  A fails. Each run has a slam-shut valve on the outlet pressure, staggered: A trips at
  {_C.ssv_trip_a:g} MPa, B at {_C.ssv_trip_b:g} MPa.
- **ESV**: follows `XV501_CMD`; trips closed (and latches `XA501`, command back to false) at
  {_C.esv_trip:g} MPa outlet pressure. Closed, no gas flows and the outlet pressure decays with
  the demand. Writing true reopens it and resets the trip.
- **Meter and flow computer**: base flow = line flow · (p/p_base) · (T_base/T) · (Z_base/Z).
  Z from the Papay correlation with the pseudo-critical point of a lean natural gas
  (relative density 0.58: 4.69 MPa, 193 K); about 0.90 at 4 MPa and 8 °C, within 1–2 % of
  AGA8 here (a demo, not custody transfer). The totalisers integrate the flows and never
  decrease.
- **Temperatures**: Joule–Thomson cooling of {_C.jt_k_per_mpa / 10:g} K per bar across the
  regulators; the preheater (up to {_C.heater_max_kw:g} kW, {_C.heater_tau / 60:g} min lag)
  keeps the outlet at {_C.t_out_setpoint:g} °C or above.
- **Odorizer**: injects THT at `FIC401_SP` mg per Nm³ of the meter's flow signal from a
  {_C.tank_capacity_l:g} L tank (997 g/L); `LAL401` below {_C.level_low_pct:g} %.

## Faults (`drivers/sim/gasgate_faults.py`)

| Fault | Effect | Removing it |
|---|---|---|
| `FilterClogging(rate)` | filter resistance grows by `rate` × clean per hour at mean flow: ΔP rises fast, `PDAH111` | the element is replaced (clean again) |
| `RegulatorFailure("A", "open")` | regulator A creeps open, the outlet pressure rises until A's slam-shut trips at {_C.ssv_trip_a:g} MPa; B takes over at its lower setpoint | A repaired, slam-shuts reset |
| `RegulatorFailure("A", "open", slam_shut_fails=True)` | the pressure rises on to {_C.esv_trip:g} MPa: the ESV trips, flow stops, the outlet pressure decays | as above |
| `RegulatorFailure("A", "closed")` | A closes; the outlet pressure falls until B opens | as above |
| `MeterFrozen()` | flows and totalisers stop updating (the volume is lost); the odorizer keeps dosing on the frozen flow | the meter counts again |
| `LinkLoss()` | the OPC UA server closes its listener and every connection | listens again on the same port, same address space |
"""  # noqa: E501


def _range(p: GasPoint) -> str:
    return "" if p.low is None or p.high is None else f"{p.low:g} … {p.high:g}"


def gas_station_markdown() -> str:
    """docs/gas-station.md: the station, its OPC UA address space and every point."""
    out = [_GAS_INTRO]
    for folder in FOLDERS:
        out += [f"## {STATION} / {folder}\n"]
        out += ["| Tag | NodeId (s=) | DataType | Unit | R/W | Range | Description | Attribute |"]
        out += ["|---|---|---|---|---|---|---|---|"]
        for p in (p for p in GAS_POINTS if p.folder == folder):
            out.append(
                f"| `{p.tag}` | `{p.node_id}` | {p.dtype} | {p.unit} | "
                f"{'R/W' if p.writable else 'R'} | {_range(p)} | {p.description} | `{p.attr}` |"
            )
        out.append("")
    out += ["## Derived tags of the demo project\n", "| Tag | Expression | Unit | Description |"]
    out.append("|---|---|---|---|")
    out += [f"| `{d.name}` | `{d.expr}` | {d.unit} | {d.description} |" for d in GAS_DERIVED]
    out.append("")
    out.append("## Alarms of the demo project\n")
    out.append(
        "Written into `resources/demo/tags/gasgate.toml` from `drivers/sim/demo_alarms.py`; at "
        "normal operation none of them fires. The simulator has no gas detector point."
    )
    out.append("")
    out += alarms_markdown([*(p.name for p in GAS_POINTS), *(d.name for d in GAS_DERIVED)])
    out.append("")
    out.append(
        "Attribute: the attribute of `GasGate` (`drivers/sim/gasgate.py`) the point reflects."
    )
    return "\n".join(out) + "\n"


_MQTT_INTRO = f"""\
# Heat meters over MQTT: topics and payloads

> {GENERATED_GAS} Do not edit by hand.

With a broker device marked `simulate = "mosquitto"` (the demo's `{DEMO_BROKER}`, port
{DEMO_MQTT_PORT}), the station starts a local mosquitto (`listener <port> 127.0.0.1`, anonymous)
and the heating simulator publishes the heat meters of {", ".join(SUBSTATIONS)} to it every
2 s (`drivers/sim/meters_mqtt.py`), in two forms. The values are the meters' published
measurements: the same numbers the Modbus heat-meter registers show (`docs/register-map.md`),
rounded. Without a mosquitto binary the station logs one line and runs without this part
(the MQTT tags then show bad `comm_failure`).

## JSON

One retained message per meter, QoS 1, topic `{JSON_PREFIX}/<meter>`:

```json
{{"ts": 1767225600000, "power_kw": 812.4, "flow_kg_s": 3.912, "t_supply_c": 99.58,
 "t_return_c": 47.66, "energy_kwh": 1873534.8, "volume_m3": 61252.182}}
```

`ts` is the time of publication in epoch milliseconds (the demo tags take it as their source
timestamp with `?ts=/ts`). The counters never decrease.

## Sparkplug B

Edge node `{EDGE_NODE}` in group `{GROUP}`, one device per meter; QoS 0, not retained.

- `spBv1.0/{GROUP}/NBIRTH/{EDGE_NODE}`: `bdSeq` (UInt64) and `Node Control/Rebirth` (Boolean).
- `spBv1.0/{GROUP}/DBIRTH/{EDGE_NODE}/<meter>`: every metric with its name, alias and value.
- `spBv1.0/{GROUP}/DDATA/{EDGE_NODE}/<meter>`: every metric by alias only (no names).
- `spBv1.0/{GROUP}/NDEATH/{EDGE_NODE}`: the MQTT will (QoS 1), and sent on a clean stop; its
  `bdSeq` matches the NBIRTH's (it stays the same across the session's reconnects).
- `seq` is 0 on NBIRTH and counts up to 255 (then 0) over every later message of the node.
- An NCMD `spBv1.0/{GROUP}/NCMD/{EDGE_NODE}` with `Node Control/Rebirth` = true makes it
  publish NBIRTH and the DBIRTHs again. A heating station that goes Offline gets a DDEATH, and a
  DBIRTH when it is back.

All metrics are Double; every metric carries its timestamp (epoch ms).
"""


def mqtt_meters_markdown() -> str:
    """docs/mqtt-meters.md: the meter topics, payload fields, Sparkplug metrics and aliases."""
    out = [_MQTT_INTRO, "## Fields and metrics\n"]
    out.append("| JSON key / metric | Unit | Modbus twin | Description |")
    out.append("|---|---|---|---|")
    for f in METER_FIELDS:
        out.append(f"| `{f.key}` | {f.unit} | `<meter>.{f.point}` | {f.description} |")
    out += ["", "## Topics and aliases\n", "| Meter | JSON topic | Sparkplug aliases |"]
    out.append("|---|---|---|")
    for ss in SUBSTATIONS:
        aliases = ", ".join(f"{f.key} = {alias_of(ss, f.key)}" for f in METER_FIELDS)
        out.append(f"| {ss} | `{json_topic(ss)}` | {aliases} |")
    out += ["", "## Demo tags (resources/demo/tags/meters.toml)\n"]
    out.append(
        f"- `<meter>.<point>_MQ`, every field over JSON, e.g. `{mqtt_address('SS1', 'power_kw')}`"
    )
    out.append(
        f"- `<meter>.<point>_SPB`, {' and '.join(SPB_FIELDS)} over Sparkplug B, "
        f"e.g. `{spb_address('SS1', 'power_kw')}`"
    )
    out += ["", "| Tag | Expression | Unit | Description |", "|---|---|---|---|"]
    out += [f"| `{d.name}` | `{d.expr}` | {d.unit} | {d.description} |" for d in METER_DERIVED]
    return "\n".join(out) + "\n"

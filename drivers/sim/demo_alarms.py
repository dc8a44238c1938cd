"""The alarms of the demo project: one table, tag name -> alarm entries, for every generated file.

`mapfiles.py` and `mapfiles_gas.py` write each tag's entries inline (`alarms = [ {...}, ... ]`)
into the demo's tags files, and the register map and gas station docs list them. The limits
sit outside what the simulators publish over a simulated day at normal operation (margins
measured in tests/drivers/test_demo_alarms.py), so the demo is quiet until a fault is injected.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from drivers.sim.gasgate_points import STATION as GAS
from drivers.sim.registers import SOURCE, SUBSTATIONS


@dataclass(frozen=True, slots=True)
class DemoAlarm:
    """One alarm entry of a demo tag, in the keys of the project format (docs/project-format.md)."""

    kind: str  # hihi hi lo lolo deviation digital
    en: str
    zh: str
    limit: float | None = None
    setpoint: str | None = None  # deviation: the tag compared with
    state: bool = True  # digital: the alarm state
    deadband: float = 0.0
    on_delay: str = ""
    off_delay: str = ""
    latch: bool = False
    priority: str = ""  # low medium high urgent; empty: the format's default
    suppress: str = ""  # expression: suppressed by design while true

    def toml(self) -> str:
        """The entry as a one-line TOML inline table."""
        parts = [f"kind = {_s(self.kind)}"]
        if self.limit is not None:
            parts.append(f"limit = {float(self.limit)!r}")
        if self.setpoint is not None:
            parts.append(f"setpoint = {_s(self.setpoint)}")
        if self.kind == "digital" and not self.state:
            parts.append("state = false")
        if self.deadband:
            parts.append(f"deadband = {float(self.deadband)!r}")
        if self.on_delay:
            parts.append(f"on_delay = {_s(self.on_delay)}")
        if self.off_delay:
            parts.append(f"off_delay = {_s(self.off_delay)}")
        if self.latch:
            parts.append("latch = true")
        if self.priority:
            parts.append(f"priority = {_s(self.priority)}")
        if self.suppress:
            parts.append(f"suppress = {_s(self.suppress)}")
        parts.append(f"message = {{ en = {_s(self.en)}, zh_CN = {_s(self.zh)} }}")
        return "{ " + ", ".join(parts) + " }"

    @property
    def condition(self) -> str:
        """When it fires, for the docs: '> 110', '< 5.5', '|x − HS1.TY101| > 8', '= false'."""
        if self.kind in ("hi", "hihi"):
            return f"> {self.limit:g}"
        if self.kind in ("lo", "lolo"):
            return f"< {self.limit:g}"
        if self.kind == "deviation":
            return f"\\|value − `{self.setpoint}`\\| > {self.limit:g}"
        return f"= {str(self.state).lower()}"


def _s(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


A = DemoAlarm
_PUMP_OFF = f"{SOURCE}.YS101 == 0"  # no circulation: pressures and temperatures mean nothing

# Secondary supply (TT301) limits per substation: lo at the heating curve's +10 °C value,
# hi at its −20 °C design value (drivers/sim/plant.py); the demo's weather (−5 ± 4 °C) keeps
# the setpoint well inside, about 10 K from either limit.
_SECONDARY: dict[str, tuple[float, float]] = {
    "SS1": (45.0, 75.0),
    "SS2": (50.0, 80.0),
    "SS3": (42.0, 70.0),
    "SS4": (45.0, 75.0),
}


# fmt: off
def _substation(ss: str) -> dict[str, tuple[DemoAlarm, ...]]:
    lo, hi = _SECONDARY[ss]
    pump_stopped = f"{ss}.HS301 == 0"  # the secondary pump stopped on purpose
    return {
        f"{ss}.TT301": (
            A("hi", "Secondary supply temperature high", "二次供水温度过高", limit=hi,
              deadband=1.0, on_delay="1m"),
            A("lo", "Secondary supply temperature low", "二次供水温度过低", limit=lo,
              deadband=1.0, on_delay="5m", suppress=pump_stopped),
        ),
        f"{ss}.TT401": (
            A("lo", "Reference room temperature low", "参考室温过低", limit=18.0,
              deadband=0.5, on_delay="15m", priority="low"),
        ),
        f"{ss}.DP1": (
            A("lo", "Primary differential pressure low (valve authority lost)",
              "一次侧压差过低", limit=1.0, deadband=0.1, on_delay="2m", suppress=_PUMP_OFF),
        ),
        f"{ss}.ZA301": (
            A("digital", "Control valve fault: position deviates from command",
              "调节阀故障：阀位偏离指令", priority="high"),
        ),
        f"{ss}.YS301": (
            A("digital", "Secondary pump stopped while commanded to run", "二次循环泵故障停机",
              state=False, on_delay="10s", priority="high", suppress=pump_stopped),
        ),
    }


DEMO_ALARMS: dict[str, tuple[DemoAlarm, ...]] = {
    # heat source HS1: the weather-compensated setpoint runs 86..104 °C in the demo's weather
    f"{SOURCE}.TT101": (
        A("hihi", "Supply temperature high high: check the boiler limiter",
          "供水温度超高：检查锅炉限温器", limit=115.0, latch=True, priority="urgent"),
        A("hi", "Supply temperature high", "供水温度过高", limit=110.0, deadband=1.0,
          on_delay="10s", priority="high"),
        A("deviation", "Supply temperature off its setpoint", "供水温度偏离设定值", limit=8.0,
          setpoint=f"{SOURCE}.TY101", deadband=1.0, on_delay="10m"),
    ),
    f"{SOURCE}.PT101": (
        A("lo", "Supply pressure low", "供水压力过低", limit=5.5, deadband=0.1,
          on_delay="30s", priority="high", suppress=_PUMP_OFF),
    ),
    f"{SOURCE}.FT102": (
        A("hi", "Make-up water flow high: network leak?", "补水流量过大：管网泄漏？",
          limit=0.5, deadband=0.05, on_delay="5m", priority="high"),
    ),
    f"{SOURCE}.YS101": (
        A("digital", "Main circulation pump stopped while commanded to run",
          "主循环泵故障停机", state=False, on_delay="10s", priority="urgent",
          suppress=f"{SOURCE}.HS101 == 0"),
    ),
    f"{SOURCE}.JAH101": (
        A("digital", "Burner at maximum power", "燃烧器满负荷", on_delay="5m", priority="low"),
    ),
    f"{SOURCE}.PAL102": (
        A("digital", "Return (static) pressure low", "回水静压过低", priority="high"),
    ),
    # leaks: per network segment by mass balance ([[segment]] in project.toml), not here
    # substations SS1..SS4
    **{tag: alarms for ss in SUBSTATIONS for tag, alarms in _substation(ss).items()},
    # gas gate station GS1: outlet regulated at 0.39..0.40 MPa; run A's slam-shut at 0.46
    f"{GAS}.PT201": (
        A("hihi", "Outlet pressure high high (slam-shut trips at 0.46 MPa)",
          "出站压力超高（切断阀 0.46 MPa 动作）", limit=0.45, priority="urgent"),
        A("hi", "Outlet pressure high", "出站压力过高", limit=0.43, deadband=0.005,
          on_delay="10s", priority="high"),
        A("lo", "Outlet pressure low", "出站压力过低", limit=0.35, deadband=0.005,
          on_delay="1m", priority="high"),
    ),
    f"{GAS}.PT101": (
        A("lo", "Inlet pressure low (transmission line)", "进站压力过低", limit=3.5,
          deadband=0.05, on_delay="1m"),
    ),
    f"{GAS}.PDT111": (
        A("hi", "Filter differential pressure rising: plan an element change",
          "过滤器压差偏高：安排更换滤芯", limit=35.0, deadband=2.0, on_delay="10m",
          priority="low"),
    ),
    f"{GAS}.PDAH111": (
        A("digital", "Filter differential pressure high", "过滤器压差过高"),
    ),
    f"{GAS}.TT201": (
        A("lo", "Outlet gas temperature low (preheater)", "出站气体温度过低（检查加热器）",
          limit=2.0, deadband=0.5, on_delay="5m"),
    ),
    f"{GAS}.LAL401": (
        A("digital", "Odorant tank level low: refill", "加臭剂储罐液位低：请补充",
          priority="low"),
    ),
    f"{GAS}.XS211": (
        A("digital", "Run A slam-shut valve closed", "A 路切断阀关闭", state=False,
          priority="high"),
    ),
    f"{GAS}.XS221": (
        A("digital", "Run B slam-shut valve closed", "B 路切断阀关闭", state=False,
          priority="high"),
    ),
    f"{GAS}.XA501": (
        A("digital", "Emergency shut-off valve tripped: station not supplying",
          "紧急切断阀跳闸：停止供气", latch=True, priority="urgent"),
    ),
}
# fmt: on


# Data-quality checks (frozen, spike, out of range) on the transmitters the operator and the
# leak detection rely on, judged while the main pump circulates. Spike rates are far above
# what the process does (temperatures move by a fraction of a kelvin per second).
# fmt: off
_RUNNING = f"{SOURCE}.YS101 == 1"
_CHECK_KINDS = {
    "temperature": 'frozen = "15m", spike_rate = 2.0, range = true',
    "pressure": 'frozen = "15m", spike_rate = 1.0, range = true',
    "flow": 'frozen = "15m", range = true',
}
_CHECKED_POINTS = {
    SOURCE: {"TT101": "temperature", "TT102": "temperature", "PT101": "pressure",
             "PT102": "pressure", "FT101": "flow", "FT110": "flow"},
    **{ss: {"TT201": "temperature", "TT202": "temperature", "PT201": "pressure",
            "PT202": "pressure", "FT201": "flow", "TT301": "temperature"}
       for ss in SUBSTATIONS},
}
DEMO_CHECKS: dict[str, str] = {
    f"{station}.{point}": f"{_CHECK_KINDS[kind]}, running = {_s(_RUNNING)}"
    for station, points in _CHECKED_POINTS.items()
    for point, kind in points.items()
}
# fmt: on


# How the demo's writable points are commanded (docs/commands.md): valves and pumps confirmed
# with the password, the main circulation pump by two people, setpoints within a step.
_MANUAL_FIRST = (
    '{{ block = "{ss}.TIC301_AUTO == 1", message = {{ en = "Controller in AUTO: switch it to '
    'MANUAL first", zh_CN = "调节器处于自动：请先切换到手动" }} }}'
)
DEMO_COMMANDS: dict[str, str] = {
    f"{SOURCE}.HS101": (
        f'critical = true, two_person = true, readback = "{SOURCE}.YS101", timeout = "30s"'
    ),
    f"{SOURCE}.TIC101_SP": "max_step = 10.0",
    f"{SOURCE}.PDIC101_SP": "max_step = 1.0",
    **{
        f"{ss}.ZC301": (
            f'max_step = 50.0, critical = true, readback = "{ss}.ZT301", band = 2.0, '
            f'timeout = "90s", interlocks = [{_MANUAL_FIRST.format(ss=ss)}]'
        )
        for ss in SUBSTATIONS
    },
    **{
        f"{ss}.HS301": f'critical = true, readback = "{ss}.YS301", timeout = "30s"'
        for ss in SUBSTATIONS
    },
    **{f"{ss}.TIC301_SP": "max_step = 10.0" for ss in SUBSTATIONS},
}


def command_lines(tag: str) -> list[str]:
    """The `command = {...}` line of a demo tag ([] when it has the defaults)."""
    rules = DEMO_COMMANDS.get(tag)
    return [f"command = {{ {rules} }}"] if rules else []


def check_lines(tag: str) -> list[str]:
    """The `checks = {...}` line of a demo tag ([] when it has none)."""
    checks = DEMO_CHECKS.get(tag)
    return [f"checks = {{ {checks} }}"] if checks else []


def alarm_lines(tag: str) -> list[str]:
    """The `alarms = [...]` lines of a demo tag ([] when it has none)."""
    alarms = DEMO_ALARMS.get(tag, ())
    if not alarms:
        return []
    return ["alarms = [", *(f"  {a.toml()}," for a in alarms), "]"]


def alarms_markdown(tags: Iterable[str]) -> list[str]:
    """A Markdown table of the demo alarms of `tags`, in that order."""
    out = [
        "| Alarm | Fires when | Delay | Priority | Suppressed while | Message |",
        "|---|---|---|---|---|---|",
    ]
    for tag in tags:
        for a in DEMO_ALARMS.get(tag, ()):
            priority = a.priority or ("high" if a.kind in ("hihi", "lolo") else "medium")
            out.append(
                f"| `{tag}.{a.kind}` | {a.condition} | {a.on_delay} | {priority}"
                f"{', latched' if a.latch else ''} | "
                f"{f'`{a.suppress}`' if a.suppress else ''} | {a.en} / {a.zh} |"
            )
    return out

"""The HMI's own health as alarms: history not being written, the publisher dropping data.

Built by the station beside the project's alarms, on the diagnostic tags it adds itself
(`_diag.history.online`, `_diag.publisher.overflow`), so an operator hears about them like
any plant alarm instead of finding them in a log.
"""

from __future__ import annotations

from hmi.alarm_config import AlarmDef
from hmi.alarms.model import AlarmKind, Priority

__all__ = ["SYSTEM_AREA", "system_alarms"]

SYSTEM_AREA = "HMI"


def system_alarms(*, publisher: bool) -> dict[str, AlarmDef]:
    """The built-in alarms on the HMI's own diagnostic tags (the publisher's when it runs)."""
    defs = [
        AlarmDef(
            id="_diag.history.online.system",
            tag="_diag.history.online",
            kind=AlarmKind.SYSTEM,
            state=False,
            on_delay=10.0,
            priority=Priority.HIGH,
            area=SYSTEM_AREA,
            message_en="History is not being written (disk full or folder not writable?): "
            "values wait in memory",
            message_zh="历史数据无法写入（磁盘已满或目录不可写？）：数据暂存于内存",
        )
    ]
    if publisher:
        defs.append(
            AlarmDef(
                id="_diag.publisher.overflow.system",
                tag="_diag.publisher.overflow",
                kind=AlarmKind.SYSTEM,
                state=True,
                priority=Priority.MEDIUM,
                area=SYSTEM_AREA,
                message_en="Publisher buffer full: the oldest messages were dropped",
                message_zh="转发缓存已满：最早的消息已丢弃",
            )
        )
    return {d.id: d for d in defs}

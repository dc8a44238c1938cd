"""The HMI's own health as alarms: history or the alarm journal not being written, the publisher
dropping data.

Built by the station beside the project's alarms, on the diagnostic tags it adds itself
(`_diag.history.online`, `_diag.database.online`, `_diag.publisher.overflow`), so an operator
hears about them like
any plant alarm instead of finding them in a log.
"""

from __future__ import annotations

from hmi.alarm_config import AlarmDef
from hmi.alarms.model import AlarmKind, Priority
from hmi.tags import DataType, TagDef

__all__ = ["DATABASE_ONLINE", "JOURNAL_QUEUE", "SYSTEM_AREA", "database_tag_defs", "system_alarms"]

DATABASE_ONLINE = "_diag.database.online"
JOURNAL_QUEUE = "_diag.database.journal_queue"


def database_tag_defs() -> list[TagDef]:
    """The relational store's health as tags: writable, and the alarm journal's backlog."""
    return [
        TagDef(
            DATABASE_ONLINE,
            description="Relational store (alarm journal, diagnostics records) being written",
            type=DataType.BOOL,
        ),
        TagDef(
            JOURNAL_QUEUE,
            description="Alarm transitions waiting to be written to the journal",
            type=DataType.INT,
            history=False,
        ),
    ]


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
    defs.append(
        AlarmDef(
            id=f"{DATABASE_ONLINE}.system",
            tag=DATABASE_ONLINE,
            kind=AlarmKind.SYSTEM,
            state=False,
            on_delay=10.0,
            priority=Priority.HIGH,
            area=SYSTEM_AREA,
            message_en="Alarm journal not being written (database unreachable or locked?): "
            "transitions wait in memory",
            message_zh="报警日志无法写入（数据库不可达或被锁定？）：记录暂存于内存",
        )
    )
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

"""What the publisher puts on the wire: the JSON schema and Sparkplug B edge-node payloads.

Owns turning a batch of tag changes into spool messages (numbered by the spool, chunked to a
maximum size), the event payload, and the send-time step (`prepare`) that Sparkplug needs: data
is buffered by metric *name* without a Sparkplug sequence, and is given the aliases and the
0-255 `seq` of the current connection's NBIRTH (and `is_historical` when it was buffered before
that birth) only when it leaves the buffer. No I/O, no threads.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from drivers.mqtt import sparkplug as spb
from hmi.publish_config import PublishConfig
from hmi.spool import Message
from hmi.tags import DataType, Quality, TagDef, Value

MAX_PAYLOAD = 64 * 1024  # bytes: a larger batch is split into several messages
MAX_METRICS = 1000  # metrics per Sparkplug NDATA message
Changes = Sequence[tuple[str, Value]]

_QUALITY = {Quality.GOOD: "good", Quality.UNCERTAIN: "uncertain", Quality.BAD: "bad"}
_SPB_TYPES = {
    DataType.FLOAT: spb.Double,
    DataType.INT: spb.Int64,
    DataType.BOOL: spb.Boolean,
    DataType.STRING: spb.String,
}


class Format(Protocol):
    """A wire format: builds spool messages and prepares each for sending."""

    name: str

    def values(self, changes: Changes, seqs: Iterator[int]) -> list[Message]:
        """Messages carrying these tag changes, numbered by `next(seqs)`."""
        ...

    def event(self, kind: str, body: bytes, seqs: Iterator[int]) -> list[Message]:
        """The message of one event (`body` is JSON text)."""
        ...

    def prepare(self, message: Message, historical: bool) -> bytes | None:
        """The payload to send now for a buffered message (None: nothing left to send)."""
        ...


def now_ms() -> int:
    """The current time in epoch milliseconds."""
    return int(time.time() * 1000)


def _ms(value: Value) -> int | None:
    ts = value.source_ts or value.recv_ts
    return round(ts * 1000) if ts else None


class JsonFormat:
    """`{"seq": n, "ts": ms, "values": {"TAG": {"v": .., "q": .., "r": .., "t": ms}}}`."""

    name = "json"

    def __init__(self, config: PublishConfig, max_payload: int = MAX_PAYLOAD) -> None:
        self.topic = f"{config.topic}/values"
        self.events_topic = f"{config.topic}/events"
        self.qos = config.qos
        self.max_payload = max_payload
        self._names: dict[str, str] = {}  # tag name -> its JSON prefix

    def _prefix(self, name: str) -> str:
        """`"TAG":{"v":` (cached: the same tags come back batch after batch)."""
        prefix = self._names.get(name)
        if prefix is None:
            prefix = self._names[name] = json.dumps(name) + ':{"v":'
        return prefix

    def entry(self, name: str, value: Value) -> str:
        """One `"TAG": {...}` member of `values`."""
        v = value.value
        if v is None:
            text = "null"
        elif isinstance(v, bool):
            text = "true" if v else "false"
        elif isinstance(v, int | float):
            text = repr(v)
        else:
            text = json.dumps(v if isinstance(v, str) else str(v))
        parts = [self._prefix(name), text, f',"q":"{_QUALITY[value.quality]}"']
        if value.reason:
            parts.append(f',"r":{json.dumps(str(value.reason))}')
        ts = _ms(value)
        if ts is not None:
            parts.append(f',"t":{ts}')
        parts.append("}")
        return "".join(parts)

    def values(self, changes: Changes, seqs: Iterator[int]) -> list[Message]:
        """Messages carrying these tag changes, numbered by `next(seqs)`."""
        ts = now_ms()
        messages: list[Message] = []
        chunk: list[str] = []
        size = 0
        budget = self.max_payload - 64  # room for seq, ts and the braces
        last_ts: float | None = -1.0
        tail = ""
        for name, value in changes:
            v = value.value
            if value.quality is Quality.GOOD and (type(v) is float or type(v) is int):
                # the common case, fast: one poll gives many good numbers with one timestamp
                source = value.source_ts or value.recv_ts
                if source != last_ts:
                    last_ts = source
                    tail = f',"q":"good","t":{round(source * 1000)}}}' if source else ',"q":"good"}'
                text = self._prefix(name) + repr(v) + tail
            else:
                text = self.entry(name, value)
            if chunk and size + len(text) + 1 > budget:
                messages.append(self._message(next(seqs), ts, chunk))
                chunk, size = [], 0
            chunk.append(text)
            size += len(text) + 1
        if chunk:
            messages.append(self._message(next(seqs), ts, chunk))
        return messages

    def _message(self, seq: int, ts: int, chunk: list[str]) -> Message:
        payload = f'{{"seq":{seq},"ts":{ts},"values":{{{",".join(chunk)}}}}}'
        return Message(seq, self.topic, payload.encode(), self.qos)

    def event(self, kind: str, body: bytes, seqs: Iterator[int]) -> list[Message]:
        """`{"seq": n, "ts": ms, "kind": kind, "body": {...}}` on `<topic>/events`."""
        seq = next(seqs)
        head = f'{{"seq":{seq},"ts":{now_ms()},"kind":{json.dumps(kind)},"body":'
        return [Message(seq, self.events_topic, head.encode() + body + b"}", self.qos)]

    def prepare(self, message: Message, historical: bool) -> bytes | None:
        """JSON messages leave the buffer as they were stored."""
        return message.payload


class SparkplugFormat:
    """A Sparkplug B edge node: NBIRTH/NDATA/NDEATH of every published tag as a node metric."""

    name = "sparkplug"

    def __init__(self, config: PublishConfig, tags: Mapping[str, TagDef]) -> None:
        self.birth_topic = spb.topic(config.group, "NBIRTH", config.edge_node)
        self.topic = spb.topic(config.group, "NDATA", config.edge_node)
        self.death_topic = spb.topic(config.group, "NDEATH", config.edge_node)
        self.command_topic = spb.topic(config.group, "NCMD", config.edge_node)
        self.json = JsonFormat(config)  # events stay JSON on <topic>/events
        self.qos = config.qos
        self.tags = dict(tags)  # the published tags, in alias order
        self.aliases = {name: alias for alias, name in enumerate(self.tags, 1)}
        self.datatypes = {name: _SPB_TYPES[tag.type] for name, tag in self.tags.items()}
        self.seq = 0  # Sparkplug sequence of the current connection (NBIRTH is 0)

    def metric(self, name: str, value: Value, alias: int | None = None) -> spb.Metric:
        """The metric of one tag value (by name when `alias` is None); bad values are null."""
        datatype = self.datatypes[name]
        v = _coerce(datatype, value.value) if value.quality is not Quality.BAD else None
        return spb.Metric(
            name=None if alias is not None else name,
            alias=alias,
            timestamp=_ms(value),
            datatype=datatype,
            value=v,
            is_null=v is None,
        )

    def values(self, changes: Changes, seqs: Iterator[int]) -> list[Message]:
        """NDATA by metric name with no seq yet (`prepare` sets alias and seq when sent)."""
        metrics = [self.metric(n, v) for n, v in changes if n in self.datatypes]
        ts = now_ms()
        messages = []
        for start in range(0, len(metrics), MAX_METRICS):
            payload = spb.encode(spb.Payload(ts, None, metrics[start : start + MAX_METRICS]))
            messages.append(Message(next(seqs), self.topic, payload, self.qos))
        return messages

    def event(self, kind: str, body: bytes, seqs: Iterator[int]) -> list[Message]:
        """Events are JSON on `<topic>/events` in both formats."""
        return self.json.event(kind, body, seqs)

    def birth(self, current: Callable[[str], Value], bd_seq: int) -> bytes:
        """NBIRTH: bdSeq, Node Control/Rebirth, and every tag with its alias and current value."""
        self.seq = 0
        ts = now_ms()
        metrics = [
            spb.Metric(spb.BD_SEQ, None, ts, spb.UInt64, bd_seq),
            spb.Metric(spb.REBIRTH, None, ts, spb.Boolean, False),
        ]
        for name, alias in self.aliases.items():
            metric = self.metric(name, current(name))
            metric.alias = alias
            metrics.append(metric)
        return spb.encode(spb.Payload(ts, 0, metrics))

    def death(self, bd_seq: int) -> bytes:
        """NDEATH (the MQTT will): just the bdSeq of the births it ends."""
        return spb.encode(
            spb.Payload(now_ms(), None, [spb.Metric(spb.BD_SEQ, None, None, spb.UInt64, bd_seq)])
        )

    def prepare(self, message: Message, historical: bool) -> bytes | None:
        """NDATA by alias with the next seq; metrics of tags no longer published are left out."""
        if message.topic != self.topic:
            return message.payload
        payload = spb.decode(message.payload)
        metrics = []
        for metric in payload.metrics:
            name = metric.name or ""
            alias = self.aliases.get(name)
            if alias is None:
                continue
            datatype = self.datatypes[name]
            if metric.datatype != datatype:  # the tag's type changed while this was buffered
                metric.value = None if metric.is_null else _coerce(datatype, metric.value)
                metric.datatype, metric.is_null = datatype, metric.value is None
            metric.name, metric.alias = None, alias
            metric.is_historical = historical
            metrics.append(metric)
        if not metrics:
            return None
        self.seq = (self.seq + 1) % 256
        return spb.encode(spb.Payload(payload.timestamp, self.seq, metrics))


def _coerce(datatype: int, value: Any) -> Any:
    """A tag value as its Sparkplug type takes it (None when it cannot be represented)."""
    try:
        if datatype == spb.Double:
            return float(value)
        if datatype == spb.Int64:
            return int(value)
        if datatype == spb.Boolean:
            return bool(value)
        return str(value)
    except (TypeError, ValueError, OverflowError):
        return None

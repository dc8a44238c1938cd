"""Host-side state of Sparkplug B edge nodes: births, aliases, sequence numbers, deaths.

Pure logic, no I/O: `EdgeTracker.handle(topic, payload)` turns one spBv1.0 message into samples
for the points that watch it and says which edge nodes need a rebirth request (a sequence gap,
DATA before BIRTH, an undecodable payload). The driver publishes those requests and hands the
samples to its sink.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from drivers.base import Quality, Reason, Sample
from drivers.mqtt import sparkplug as spb
from drivers.mqtt.payload import SpbAddress

NodeId = tuple[str, str]  # (group, edge node)
REBIRTH_RETRY = 10.0  # seconds before a rebirth request that brought no NBIRTH is sent again


@dataclass
class _Node:
    """What the host knows about one edge node since its last NBIRTH."""

    born: bool = False
    seq: int | None = None
    bd_seq: int | None = None
    asked_at: float | None = None  # when a rebirth was last requested (None: not waiting)
    aliases: dict[tuple[str | None, int], str] = field(default_factory=dict)
    datatypes: dict[tuple[str | None, str], int] = field(default_factory=dict)


@dataclass
class Outcome:
    """What one message means: samples to publish, nodes to ask for a rebirth, an error text."""

    samples: list[Sample] = field(default_factory=list)
    rebirth: list[NodeId] = field(default_factory=list)
    error: str = ""


class EdgeTracker:
    """Sparkplug state per edge node, and which point keys watch which metric."""

    def __init__(self, device: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.device = device
        self._clock = clock
        self._nodes: dict[NodeId, _Node] = {}
        # (group, edge, device) -> metric name -> point keys
        self._watch: dict[tuple[str, str, str | None], dict[str, list[str]]] = {}
        self._last: dict[str, Any] = {}  # last good value per key, re-sent as uncertain

    def set_points(self, points: dict[str, SpbAddress]) -> list[NodeId]:
        """Watch these points; returns the edge nodes they belong to (one subscription each)."""
        self._watch = {}
        for key, where in points.items():
            scope = (where.group, where.edge_node, where.device)
            self._watch.setdefault(scope, {}).setdefault(where.metric, []).append(key)
        nodes = sorted({(g, e) for g, e, _ in self._watch})
        self._nodes = {n: self._nodes.get(n, _Node()) for n in nodes}
        self._last = {k: v for k, v in self._last.items() if k in points}
        return nodes

    def datatype(self, where: SpbAddress) -> int | None:
        """The data type a metric was born with, or None when no birth was seen."""
        node = self._nodes.get((where.group, where.edge_node))
        if node is None or not node.born:
            return None
        return node.datatypes.get((where.device, where.metric))

    def forget_all(self) -> list[NodeId]:
        """After a broker reconnect: nothing is known any more; returns the nodes to rebirth."""
        now = self._clock()
        for node in self._nodes.values():
            node.born = False
            node.seq = None
            node.asked_at = now
        return list(self._nodes)

    def _keys(
        self, group: str, edge: str, device: str | None = None, *, all_: bool = True
    ) -> Iterator[str]:
        """Point keys of an edge node (all_) or of one of its devices (device None: the node)."""
        for (g, e, d), metrics in self._watch.items():
            if g == group and e == edge and (all_ or d == device):
                for keys in metrics.values():
                    yield from keys

    def _dead(self, keys: Iterator[str]) -> list[Sample]:
        samples = []
        for key in keys:
            self._last.pop(key, None)
            samples.append(Sample(key, None, Quality.BAD, Reason.COMM_FAILURE))
        return samples

    def _doubt(self, node_id: NodeId, node: _Node, out: Outcome) -> None:
        """Forget the node's birth, ask for a new one, mark its last values uncertain (stale)."""
        node.born = False
        node.seq = None
        now = self._clock()
        if node.asked_at is None:
            out.samples.extend(
                Sample(k, self._last[k], Quality.UNCERTAIN, Reason.STALE)
                for k in self._keys(*node_id)
                if k in self._last
            )
        if node.asked_at is None or now - node.asked_at >= REBIRTH_RETRY:
            node.asked_at = now
            out.rebirth.append(node_id)

    def handle(self, topic: str, data: bytes) -> Outcome:
        """Apply one spBv1.0 message; unknown topics and commands give an empty outcome."""
        out = Outcome()
        try:
            group, kind, edge, device = spb.parse_topic(topic)
        except spb.SparkplugError:
            return out
        node_id = (group, edge)
        node = self._nodes.get(node_id)
        if node is None or kind in ("NCMD", "DCMD"):
            return out
        try:
            payload = spb.decode(data)
        except spb.SparkplugError as exc:
            out.error = f"{topic}: {exc}"
            self._doubt(node_id, node, out)
            return out
        if kind == "NDEATH":
            bd_seq = _bd_seq(payload)
            if bd_seq is not None and node.bd_seq is not None and bd_seq != node.bd_seq:
                return out  # the death certificate of an older session: this one is alive
            node.born = False
            node.seq = None
            node.asked_at = None
            out.samples = self._dead(self._keys(group, edge))
            return out
        if kind == "NBIRTH":
            node.born = True
            node.asked_at = None
            node.seq = payload.seq
            node.bd_seq = _bd_seq(payload)
            node.aliases.clear()
            node.datatypes.clear()
        elif not node.born:
            self._doubt(node_id, node, out)
            return out
        else:
            expected = None if node.seq is None else (node.seq + 1) % 256
            if payload.seq is None or (expected is not None and payload.seq != expected):
                out.error = f"{topic}: sequence number {payload.seq}, expected {expected}"
                self._doubt(node_id, node, out)
                return out
            node.seq = payload.seq
        if kind == "DDEATH":
            out.samples = self._dead(self._keys(group, edge, device, all_=False))
            return out
        if kind == "DBIRTH":
            for scope_alias in [a for a in node.aliases if a[0] == device]:
                del node.aliases[scope_alias]
        birth = kind in ("NBIRTH", "DBIRTH")
        watched = self._watch.get((group, edge, device), {})
        timestamp = payload.timestamp
        for metric in payload.metrics:
            name = metric.name
            if birth and name is not None:
                node.datatypes[(device, name)] = metric.datatype
                if metric.alias is not None:
                    node.aliases[(device, metric.alias)] = name
            elif name is None and metric.alias is not None:
                name = node.aliases.get((device, metric.alias))
            if name is None or name not in watched or metric.is_historical:
                continue
            if metric.datatype == spb.Unknown and not birth:
                try:
                    metric.value = spb.retype(metric.value, node.datatypes.get((device, name), 0))
                except spb.SparkplugError as exc:
                    out.error = f"{topic}: metric {name}: {exc}"
                    out.samples.extend(
                        Sample(k, None, Quality.BAD, Reason.DECODE_ERROR) for k in watched[name]
                    )
                    continue
            out.samples.extend(self._samples(watched[name], metric, timestamp))
        return out

    def _samples(self, keys: list[str], metric: spb.Metric, sent: int | None) -> list[Sample]:
        ms = metric.timestamp if metric.timestamp is not None else sent
        source_ts = ms / 1000.0 if ms is not None else None
        if metric.is_null or metric.value is None:
            return [Sample(k, None, Quality.BAD, Reason.DEVICE_ERROR, source_ts) for k in keys]
        for k in keys:
            self._last[k] = metric.value
        return [Sample(k, metric.value, Quality.GOOD, Reason.NONE, source_ts) for k in keys]


def _bd_seq(payload: spb.Payload) -> int | None:
    for metric in payload.metrics:
        if metric.name == spb.BD_SEQ and isinstance(metric.value, int):
            return metric.value
    return None


def rebirth_request(timestamp_ms: int) -> bytes:
    """The NCMD payload asking an edge node for new births (`Node Control/Rebirth` = true)."""
    metric = spb.Metric(spb.REBIRTH, None, timestamp_ms, spb.Boolean, True)
    return spb.encode(spb.Payload(timestamp_ms, None, [metric]))


def command(where: SpbAddress, datatype: int, value: Any, timestamp_ms: int) -> bytes:
    """An NCMD/DCMD payload writing `value` to one metric; raises SparkplugError or ValueError."""
    return spb.encode(
        spb.Payload(
            timestamp_ms,
            None,
            [spb.Metric(where.metric, None, timestamp_ms, datatype, coerce(value, datatype))],
        )
    )


def coerce(value: Any, datatype: int) -> Any:
    """A written engineering value in the Python type a Sparkplug data type needs."""
    if datatype == spb.Boolean:
        if isinstance(value, str):
            if value.strip().lower() not in ("true", "false", "1", "0"):
                raise ValueError(f"{value!r} is not true or false")
            return value.strip().lower() in ("true", "1")
        return bool(value)
    if datatype in (spb.Float, spb.Double):
        return float(value)
    if datatype in (spb.String, spb.Text, spb.UUID):
        return str(value)
    if datatype in (
        spb.Int8,
        spb.Int16,
        spb.Int32,
        spb.Int64,
        spb.UInt8,
        spb.UInt16,
        spb.UInt32,
        spb.UInt64,
    ):
        number = float(value)
        if not number.is_integer():
            raise ValueError(f"{value!r} is not a whole number")
        return int(number)
    return value

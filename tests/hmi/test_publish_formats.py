"""The wire formats without a broker: JSON entries and chunking, Sparkplug aliases and seq."""

from __future__ import annotations

import itertools
import json

from drivers.mqtt import sparkplug as spb
from hmi.publish_config import PublishConfig
from hmi.publish_formats import JsonFormat, SparkplugFormat
from hmi.tags import DataType, Quality, Reason, TagDef, Value

TS = 1_764_000_000.123


def good(v: object) -> Value:
    return Value(v, Quality.GOOD, Reason.NONE, TS, TS + 0.01)


def test_json_values_of_every_kind() -> None:
    fmt = JsonFormat(PublishConfig(device="B", topic="site/a"))
    changes = [
        ("A.F", good(92.3)),
        ("A.I", good(7)),
        ("A.B", good(True)),
        ("A.S", good('quote " and ü')),
        ("A.U", Value(1.5, Quality.UNCERTAIN, Reason.STALE, TS, TS)),
        ("A.X", Value(None, Quality.BAD, Reason.COMM_FAILURE, None, TS)),
    ]
    [message] = fmt.values(changes, itertools.count(41))
    assert message.seq == 41 and message.topic == "site/a/values" and message.qos == 1
    body = json.loads(message.payload)
    assert body["seq"] == 41 and isinstance(body["ts"], int)
    t = round(TS * 1000)
    assert body["values"] == {
        "A.F": {"v": 92.3, "q": "good", "t": t},
        "A.I": {"v": 7, "q": "good", "t": t},
        "A.B": {"v": True, "q": "good", "t": t},
        "A.S": {"v": 'quote " and ü', "q": "good", "t": t},
        "A.U": {"v": 1.5, "q": "uncertain", "r": "stale", "t": t},
        "A.X": {"v": None, "q": "bad", "r": "comm_failure", "t": t},
    }


def test_a_large_batch_is_split_into_messages_under_the_limit() -> None:
    fmt = JsonFormat(PublishConfig(device="B"), max_payload=2048)
    changes = [(f"T.N{i}", good(i * 0.5)) for i in range(500)]
    messages = fmt.values(changes, itertools.count(1))
    assert len(messages) > 10
    assert [m.seq for m in messages] == list(range(1, len(messages) + 1))
    assert all(len(m.payload) <= 2048 for m in messages)
    seen: dict[str, float] = {}
    for m in messages:
        seen |= {k: v["v"] for k, v in json.loads(m.payload)["values"].items()}
    assert seen == {f"T.N{i}": i * 0.5 for i in range(500)}


def test_events_share_the_sequence() -> None:
    fmt = JsonFormat(PublishConfig(device="B", topic="x"))
    [event] = fmt.event("alarm", b'{"tag":"A"}', itertools.count(9))
    assert event.topic == "x/events"
    assert json.loads(event.payload) | {"ts": 0} == {
        "seq": 9,
        "ts": 0,
        "kind": "alarm",
        "body": {"tag": "A"},
    }


def sparkplug() -> SparkplugFormat:
    tags = {
        "A.F": TagDef("A.F"),
        "A.I": TagDef("A.I", type=DataType.INT),
        "A.B": TagDef("A.B", type=DataType.BOOL),
    }
    return SparkplugFormat(PublishConfig(device="B", group="g", edge_node="n"), tags)


def test_sparkplug_data_is_buffered_by_name_and_sent_by_alias() -> None:
    fmt = sparkplug()
    [stored] = fmt.values(
        [("A.I", good(3)), ("A.F", Value(None, Quality.BAD, Reason.TIMEOUT, TS, TS))],
        itertools.count(5),
    )
    assert stored.topic == "spBv1.0/g/NDATA/n"
    buffered = spb.decode(stored.payload)
    assert buffered.seq is None and [m.name for m in buffered.metrics] == ["A.I", "A.F"]
    birth = spb.decode(fmt.birth(lambda name: good(1.0 if name == "A.F" else 1), 4))
    assert birth.seq == 0
    assert [(m.name, m.alias, m.datatype) for m in birth.metrics] == [
        ("bdSeq", None, spb.UInt64),
        ("Node Control/Rebirth", None, spb.Boolean),
        ("A.F", 1, spb.Double),
        ("A.I", 2, spb.Int64),
        ("A.B", 3, spb.Boolean),
    ]
    assert birth.metrics[0].value == 4 and birth.metrics[4].value is True
    sent = spb.decode(fmt.prepare(stored, historical=True) or b"")
    assert sent.seq == 1
    assert [(m.name, m.alias, m.value, m.is_null) for m in sent.metrics] == [
        (None, 2, 3, False),
        (None, 1, None, True),
    ]
    assert all(m.is_historical for m in sent.metrics)
    assert not spb.decode(fmt.prepare(stored, historical=False) or b"").metrics[0].is_historical


def test_sparkplug_seq_wraps_and_restarts_at_each_birth() -> None:
    fmt = sparkplug()
    [stored] = fmt.values([("A.B", good(False))], itertools.count(1))
    fmt.birth(lambda _name: Value.initial(), 0)
    seqs = [spb.decode(fmt.prepare(stored, False) or b"").seq for _ in range(257)]
    assert seqs[:3] == [1, 2, 3] and seqs[254:] == [255, 0, 1]
    fmt.birth(lambda _name: Value.initial(), 1)
    assert spb.decode(fmt.prepare(stored, False) or b"").seq == 1


def test_sparkplug_leaves_out_tags_no_longer_published() -> None:
    old = sparkplug()
    [stored] = old.values([("A.B", good(True))], itertools.count(1))
    now = SparkplugFormat(
        PublishConfig(device="B", group="g", edge_node="n"), {"A.F": TagDef("A.F")}
    )
    assert now.prepare(stored, historical=True) is None  # nothing left to send

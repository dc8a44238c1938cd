"""TagStore: change versions, changes_since, snapshots, concurrent readers."""

from __future__ import annotations

import threading

from hmi.tags import Quality, Reason, Value
from hmi.tagstore import TagStore


def good(x: float) -> Value:
    return Value(x, Quality.GOOD, Reason.NONE, 1.0, 1.0)


def test_new_tags_start_bad_initial_and_are_reported_once() -> None:
    store = TagStore(["A", "B"])
    assert store.get("A").quality is Quality.BAD
    assert store.get("A").reason is Reason.INITIAL
    version, changes = store.changes_since(0)
    assert set(changes) == {"A", "B"}
    assert store.changes_since(version) == (version, {})


def test_changes_since_returns_only_tags_changed_after_the_version() -> None:
    store = TagStore(["A", "B", "C"])
    v0 = store.version
    v1 = store.update([("A", good(1.0)), ("B", good(2.0))])
    v2 = store.update([("C", good(3.0))])
    assert v2 > v1 > v0
    _, changes = store.changes_since(v0)
    assert {k: v.value for k, v in changes.items()} == {"A": 1.0, "B": 2.0, "C": 3.0}
    _, changes = store.changes_since(v1)
    assert list(changes) == ["C"]
    store.update([("A", good(5.0))])
    version, changes = store.changes_since(v2)
    assert {k: v.value for k, v in changes.items()} == {"A": 5.0}
    assert version == store.version


def test_unknown_names_are_ignored_and_empty_batches_do_not_bump_the_version() -> None:
    store = TagStore(["A"])
    v = store.version
    assert store.update([("nope", good(1.0))]) == v
    assert store.update([]) == v


def test_snapshot_is_a_copy() -> None:
    store = TagStore(["A"])
    _, snap = store.snapshot()
    store.update([("A", good(1.0))])
    assert snap["A"].value is None
    assert store.get("A").value == 1.0


def test_a_reader_thread_never_misses_a_change() -> None:
    names = [f"T{i}" for i in range(200)]
    store = TagStore(names)
    seen: dict[str, float] = {}
    done = threading.Event()

    def reader() -> None:
        version = 0
        while not done.is_set() or version != store.version:
            version, changes = store.changes_since(version)
            for k, v in changes.items():
                if v.value is not None:
                    seen[k] = v.value

    t = threading.Thread(target=reader, name="conduit-test-reader")
    t.start()
    for round_ in range(1, 51):
        store.update([(n, good(float(round_))) for n in names[round_ % 7 :: 3]])
    final = {n: store.get(n).value for n in names if store.get(n).value is not None}
    done.set()
    t.join(10)
    assert seen == final

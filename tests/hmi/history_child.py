"""A child process for the historian's crash tests (run by tests/hmi/test_history_crash.py).

`python -m tests.hmi.history_child append FILE FIRST ROWS` appends batches FIRST, FIRST+1, ...
of ROWS rows each through `HistoryStore` as fast as it can and prints `committed <k>` after
each commit, until it is killed. Batch k holds, for i in 0..ROWS-1, tag `T<i % TAGS>`, ts
`k * ROWS + i` (so every row is unique) and the value `batch_values(k, ROWS)[i]`.

`python -m tests.hmi.history_child service FILE MAX_ROWS CHECKPOINT` runs a `HistoryService`
on FILE (tag `A`, a queue of MAX_ROWS rows, fast retries) and answers one line per command
read from stdin:

    feed N      queue N more values of A (value = sequence number)   -> `fed <total>`
    diag        the `_diag.history.*` values and open count, as JSON -> `diag {...}`
    limit B     set the soft RLIMIT_FSIZE to B bytes (writes fail EFBIG) -> `ok`
    unlimit     lift it                                              -> `ok`
    stop        stop the service                                     -> `stopped`

With CHECKPOINT `every` (else `auto`), each open sets DuckDB's checkpoint threshold so low
that a commit of some thousand rows checkpoints straight into the database file: a write error
then invalidates the database (DuckDB's FatalException) instead of only failing the commit,
and the writer must reopen the store. Log lines go to stderr.
"""

from __future__ import annotations

import json
import logging
import resource
import signal
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt

from drivers.base import Quality
from hmi.history.service import HistoryService
from hmi.history.store import HistoryStore
from hmi.tags import TagDef, Value

TAGS = 3
T0_MS = 1_700_000_000_000


def batch_values(k: int, rows: int) -> npt.NDArray[np.float64]:
    """The values of batch k: random, so the WAL and the file grow as with real data."""
    return np.random.default_rng(k).uniform(-1000.0, 1000.0, rows)


def append_forever(path: Path, first: int, rows: int) -> None:
    """Append batches first, first+1, ... and report each commit on stdout."""
    store = HistoryStore(path)
    ids = store.tag_ids(f"T{t}" for t in range(TAGS))
    tag_ids = np.array([ids[f"T{i % TAGS}"] for i in range(rows)], dtype=np.uint32)
    quality = np.full(rows, 2, dtype=np.uint8)
    print("ready", flush=True)
    k = first
    while True:
        ts = np.arange(k * rows, (k + 1) * rows, dtype=np.int64)
        store.append_arrays(ts, tag_ids, batch_values(k, rows), quality)
        print(f"committed {k}", flush=True)
        k += 1


class _EveryCommitCheckpoints(HistoryService):
    """A service whose store checkpoints on every commit; counts how often it was opened."""

    opened = 0

    def _open(self) -> HistoryStore:
        store = super()._open()
        cur = store.cursor()
        try:
            cur.execute("SET checkpoint_threshold = '1KB'")
        finally:
            cur.close()
        _EveryCommitCheckpoints.opened += 1
        return store


class _CountingService(HistoryService):
    """A service that counts how often its store was opened."""

    opened = 0

    def _open(self) -> HistoryStore:
        store = super()._open()
        _CountingService.opened += 1
        return store


def serve(path: Path, max_rows: int, checkpoint: str) -> None:
    """Run a HistoryService and answer the test's commands (see the module docstring)."""
    kind = _EveryCommitCheckpoints if checkpoint == "every" else _CountingService
    service = kind(
        path,
        {"A": TagDef("A")},
        open_retry=0.1,
        max_rows=max_rows,
        flush_interval=0.02,
        retry_delay=0.02,
        retry_max=0.2,
    )
    service.start()
    print("ready", flush=True)
    fed = 0
    for line in sys.stdin:
        cmd, *args = line.split()
        if cmd == "feed":
            for _ in range(int(args[0])):
                ts = (T0_MS + fed) / 1000.0
                service.on_changes([("A", Value(float(fed), Quality.GOOD, recv_ts=ts))])
                fed += 1
            print(f"fed {fed}", flush=True)
        elif cmd == "diag":
            diag = dict(service.diagnostics(), opened=kind.opened)
            print(f"diag {json.dumps(diag)}", flush=True)
        elif cmd == "limit":
            resource.setrlimit(resource.RLIMIT_FSIZE, (int(args[0]), resource.RLIM_INFINITY))
            print("ok", flush=True)
        elif cmd == "unlimit":
            unlimited = resource.RLIM_INFINITY
            resource.setrlimit(resource.RLIMIT_FSIZE, (unlimited, unlimited))
            print("ok", flush=True)
        elif cmd == "stop":
            service.stop()
            print("stopped", flush=True)
            return


def main(argv: list[str]) -> None:
    """Run the mode named by argv[0]."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past RLIMIT_FSIZE: EFBIG, not death
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if argv[0] == "append":
        append_forever(Path(argv[1]), int(argv[2]), int(argv[3]))
    elif argv[0] == "service":
        serve(Path(argv[1]), int(argv[2]), argv[3])
    else:
        raise SystemExit(f"unknown mode {argv[0]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])

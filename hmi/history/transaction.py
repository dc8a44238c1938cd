"""One DuckDB transaction as a context manager that never hides the error that ended it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import duckdb

__all__ = ["transaction"]


@contextlib.contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """BEGIN; COMMIT on success; ROLLBACK on an error and re-raise that error.

    A failed COMMIT (say, a full disk) already ended the transaction, and DuckDB's ROLLBACK
    then raises "no transaction is active": that second error must not replace the first.
    """
    conn.begin()
    try:
        yield
        conn.commit()
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            conn.rollback()
        raise

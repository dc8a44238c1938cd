"""The relational store: one SQLAlchemy engine and the one MetaData every table joins.

Owns how the database is opened: `hmi.sqlite` in the data folder by default (WAL mode, so
readers never wait for the journal's writer, and a busy timeout, so a writer waits for a lock
instead of failing at once), or any SQLAlchemy URL (`postgresql+psycopg://...` for several
seats). Modules that keep records (alarm journal, users, audit) define their tables on
`metadata`; `create_all` creates those whose modules are imported. No migrations here: a table
added later is created by `create_all`; a changed column needs its own upgrade step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event

__all__ = ["SQLITE_NAME", "create_all", "metadata", "open_database"]

SQLITE_NAME = "hmi.sqlite"

metadata = MetaData()


def open_database(url: str | None, data_dir: Path, *, busy_timeout: float = 5.0) -> Engine:
    """An engine for `url`, or for `<data_dir>/hmi.sqlite` when `url` is None."""
    if url is None:
        data_dir.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{data_dir / SQLITE_NAME}"
    engine = create_engine(url, pool_pre_ping=not url.startswith("sqlite"))
    if engine.dialect.name == "sqlite":
        timeout_ms = round(busy_timeout * 1000)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(f"PRAGMA busy_timeout = {timeout_ms}")
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute(
                    "PRAGMA synchronous = FULL"
                )  # a committed record survives power loss
                cursor.execute("PRAGMA foreign_keys = ON")
            finally:
                cursor.close()

    return engine


def create_all(engine: Engine) -> None:
    """Create the tables of every imported module that are missing (existing ones are kept)."""
    metadata.create_all(engine)

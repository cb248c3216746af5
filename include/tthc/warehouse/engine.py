"""The warehouse engine: connections, transactions, and SQL run from include/sql files."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from ..periods import LOCAL_TZ
from ..redaction import redact, safe_url, url_secrets
from .sqlfiles import read_sql


class WarehouseError(RuntimeError):
    """The warehouse cannot be reached or a load failed (it is left as it was)."""


def _sqlite_setup(engine: Engine) -> None:
    """WAL + busy timeout so Airflow's parallel task processes share the file (see shared notes);
    BEGIN IMMEDIATE so a writer waits for the lock instead of failing when it upgrades."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout = 120000")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # SQLAlchemy's message would quote the part after a raw '@'
        raise WarehouseError(f"warehouse {safe_url(url)}: not a valid SQLAlchemy URL (in a password, write "
                             "'@' as %40, ':' as %3A and '/' as %2F)") from None
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # NullPool: no connection outlives its task, so no process keeps the file busy.
        engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": 120})
        _sqlite_setup(engine)
    elif parsed.drivername in ("postgresql", "postgresql+psycopg2"):
        # execute_batch for executemany of text() statements (procedures, reference rows): psycopg2's
        # own executemany is one round trip per row.
        engine = create_engine(url, pool_pre_ping=True, executemany_mode="values_plus_batch",
                               executemany_batch_page_size=500)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    return engine


def now_local() -> str:
    """Now, local, to the microsecond: ordering what was seen before or after a run must be exact."""
    return datetime.now(LOCAL_TZ).isoformat(timespec="microseconds")


def execute_file(conn: Connection, name: str, **params) -> None:
    """Run every statement of include/sql/<name>.sql (rendered for the connection's engine) with
    bound parameters."""
    for statement in read_sql(name, conn.dialect.name):
        names = _parameter_names(statement)
        conn.execute(text(statement), {k: v for k, v in params.items() if k in names})


@lru_cache(maxsize=512)
def _parameter_names(statement: str) -> frozenset[str]:
    """The bind parameters a statement takes: compiling it costs ≈ 1 ms, once per unit's load otherwise."""
    return frozenset(text(statement).compile().params)


def execute_many(conn: Connection, name: str, rows: list[dict]) -> None:
    """Run the single statement of include/sql/<name>.sql once per parameter set (executemany)."""
    (statement,) = read_sql(name, conn.dialect.name)
    conn.execute(text(statement), rows)


def query(conn: Connection, name: str, **params) -> list[dict]:
    """Rows of the single SELECT in include/sql/<name>.sql, as dicts."""
    (statement,) = read_sql(name, conn.dialect.name)
    result = conn.execute(text(statement), params)
    return [dict(r._mapping) for r in result]


@contextmanager
def transaction(url: str, held: Connection | None = None) -> Iterator[Connection]:
    """One transaction: all of it commits, or nothing does; on `held` (from connection()) when given."""
    with _named_errors(url):
        if held is None:
            with get_engine(url).begin() as conn:
                yield conn
        else:
            with held.begin():
                yield held


@contextmanager
def connection(url: str) -> Iterator[Connection]:
    """One connection for a step's many small transactions (transaction(url, held)): each would
    otherwise open its own, and on SQLite closing the last connection checkpoints the WAL (an fsync)."""
    with _named_errors(url), get_engine(url).connect() as conn:
        yield conn


@contextmanager
def _named_errors(url: str) -> Iterator[None]:
    try:
        yield
    except SQLAlchemyError as exc:
        raise WarehouseError(f"warehouse {safe_url(url)}: {exc.__class__.__name__}: "
                             f"{redact(_first_line(exc), url_secrets(url))}") from exc


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__


def lock_for_writing(conn: Connection) -> None:
    """Serialise loads of different periods: they share the reference tables. SQLite already
    serialises writers (BEGIN IMMEDIATE); PostgreSQL takes a transaction-scoped advisory lock."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(724001)"))

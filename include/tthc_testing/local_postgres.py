"""Databases of their own on a local PostgreSQL server, for the demo, the bench and the tests.

Each caller names the server by the URL of its maintenance database as a user who may create
databases (LOCAL_ADMIN_URL: these machines' server, trust auth); a database's URL is that one with
the database's name.
"""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import SQLAlchemyError

LOCAL_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


def shown(url: str) -> str:
    """The URL for a message: no password."""
    return make_url(url).render_as_string(hide_password=True)


def database_url(admin_url: str, name: str) -> str:
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def unreachable(admin_url: str) -> str | None:
    """Why the server does not answer (the driver's first line), or None when it does."""
    engine = create_engine(admin_url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as c:
            c.execute(text("SELECT 1"))
        return None
    except SQLAlchemyError as exc:
        return (str(exc.orig or exc).strip().splitlines() or [type(exc).__name__])[0]
    finally:
        engine.dispose()


def create_database(admin_url: str, name: str, *, comment: str | None = None) -> str:
    """A new, empty database `name` (with `comment`, e.g. who made it); its URL."""
    with _admin(admin_url) as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
        if comment is not None:
            c.execute(text(f'COMMENT ON DATABASE "{name}" IS ' + _literal(comment)))
    return database_url(admin_url, name)


def database_comment(admin_url: str, name: str) -> tuple[bool, str | None]:
    """Whether database `name` exists, and its comment."""
    with _admin(admin_url) as c:
        row = c.execute(text("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = :n"),
                        {"n": name}).first()
    return (row is not None, row[0] if row else None)


def drop_database(admin_url: str, name: str) -> None:
    """Drop database `name` if it exists, ending its sessions first."""
    with _admin(admin_url) as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def _admin(admin_url: str):
    """A connection to the maintenance database in autocommit (CREATE/DROP DATABASE refuse a
    transaction); its engine disposed afterwards."""
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as c:
            yield c
    finally:
        engine.dispose()


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"

"""The demo's choice of Airflow metadata DB (scripts/demo.py `_metadata_db`), on the real local server:
a PostgreSQL database of its own, recreated on every run, never one it did not make; SQLite when no
server answers."""

from __future__ import annotations

import importlib.util
import uuid

import pytest
from sqlalchemy import create_engine, inspect, text

from tests.support import PG_ADMIN_URL, ROOT, require_postgres
from tthc_testing import local_postgres


@pytest.fixture
def demo(monkeypatch):
    require_postgres()
    spec = importlib.util.spec_from_file_location("demo_script", ROOT / "scripts" / "demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # A name of this test's own: the developer's demo database is never touched.
    monkeypatch.setattr(module, "METADATA_DB", f"tthc_demo_test_{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv("DEMO_PG_ADMIN_URL", PG_ADMIN_URL)
    yield module
    local_postgres.drop_database(PG_ADMIN_URL, module.METADATA_DB)


def _tables(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        return inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_the_demo_recreates_its_own_postgresql_database(demo, tmp_path):
    url = demo._metadata_db(tmp_path)
    assert url == local_postgres.database_url(PG_ADMIN_URL, demo.METADATA_DB)
    assert local_postgres.database_comment(PG_ADMIN_URL, demo.METADATA_DB) == (True, demo.MARKER)
    engine = create_engine(url)
    with engine.begin() as c:
        c.execute(text("CREATE TABLE left_by_the_last_run (x int)"))
    engine.dispose()

    assert demo._metadata_db(tmp_path) == url
    assert _tables(url) == []


def test_the_demo_never_drops_a_database_it_did_not_make(demo, tmp_path):
    url = local_postgres.create_database(PG_ADMIN_URL, demo.METADATA_DB, comment="the district's own")
    engine = create_engine(url)
    with engine.begin() as c:
        c.execute(text("CREATE TABLE precious (x int)"))
    engine.dispose()

    with pytest.raises(SystemExit, match=f"database {demo.METADATA_DB} on .* was not made by the demo"):
        demo._metadata_db(tmp_path)
    assert _tables(url) == ["precious"]


def test_without_a_server_the_demo_says_so_and_uses_sqlite(demo, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DEMO_PG_ADMIN_URL", "postgresql+psycopg2://postgres:secret@127.0.0.1:1/postgres")
    assert demo._metadata_db(tmp_path) == f"sqlite:///{tmp_path.resolve() / 'airflow.db'}"
    err = capsys.readouterr().err
    assert "no PostgreSQL server at postgresql+psycopg2://postgres:***@127.0.0.1:1/postgres" in err
    assert "secret" not in err
    assert "SQLite in" in err and "DEMO_PG_ADMIN_URL" in err


def test_make_clean_drops_the_demos_database_and_no_other(demo, tmp_path, capsys):
    demo._metadata_db(tmp_path)
    assert demo.main(["--drop-database"]) == 0
    assert f"dropped database {demo.METADATA_DB}" in capsys.readouterr().out
    assert local_postgres.database_comment(PG_ADMIN_URL, demo.METADATA_DB) == (False, None)
    assert demo.main(["--drop-database"]) == 0
    assert capsys.readouterr().out == ""  # nothing left to drop

    local_postgres.create_database(PG_ADMIN_URL, demo.METADATA_DB)
    with pytest.raises(SystemExit, match="was not made by the demo"):
        demo.main(["--drop-database"])
    assert local_postgres.database_comment(PG_ADMIN_URL, demo.METADATA_DB) == (True, None)

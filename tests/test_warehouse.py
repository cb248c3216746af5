"""The warehouse's own machinery: SQL files, versioned migrations, the BI role, parallel writers."""

from __future__ import annotations

import multiprocessing

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import ProgrammingError

from tthc import warehouse
from tthc.warehouse import migrate, split_statements, transaction


def test_statements_split_at_line_ends_but_not_inside_dollar_bodies():
    sql = "-- a comment;\nCREATE TABLE a (x INT);\nDO $$\nBEGIN\n  PERFORM 1;\nEND\n$$;\n-- only a comment\n"
    assert split_statements(sql) == ["CREATE TABLE a (x INT)", "DO $$\nBEGIN\n  PERFORM 1;\nEND\n$$"]


def test_migrations_apply_once_and_in_order(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    assert migrate(url) == ["V001__warehouse", "V002__figure_views", *_later_portable()]
    assert migrate(url) == []
    with transaction(url) as conn:
        versions = [r[0] for r in conn.execute(text("SELECT version FROM schema_version ORDER BY version"))]
    assert "V100__bi_readonly_role" not in versions  # PostgreSQL only


def _later_portable():
    from tthc.settings import SQL_DIR

    number = lambda v: int(v[1:].split("__")[0])  # noqa: E731
    return sorted((p.stem for p in (SQL_DIR / "schema").glob("V*.sql") if number(p.stem) > 2), key=number)


def _exit_codes(target, args_list: list[tuple]) -> list[int]:
    """Run target(*args) in separate processes at once, as Airflow runs tasks; their exit codes."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=target, args=args) for args in args_list]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    return [p.exitcode for p in procs]


def _write_rows(url: str, worker: int, n: int) -> None:
    for i in range(n):
        with transaction(url) as conn:
            conn.execute(text("INSERT INTO ref_period (period, period_scheme, period_start, period_end, deadline) "
                              "VALUES (:p, 'decree09', 'a', 'b', 'c')"), {"p": f"w{worker}-{i}"})


def test_parallel_processes_share_the_embedded_warehouse(tmp_path):
    """Airflow runs tasks in separate processes: concurrent writers wait, none fails."""
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    migrate(url)
    assert _exit_codes(_write_rows, [(url, w, 150) for w in range(3)]) == [0, 0, 0]
    with transaction(url) as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM ref_period")).scalar() == 450


@pytest.mark.postgres
def test_bi_role_reads_marts_and_nothing_else(pg_url):
    migrate(pg_url)
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        conn.execute(text("SET ROLE tthc_bi"))
        assert conn.execute(text("SELECT COUNT(*) FROM mart_area_kpi_monthly")).scalar() == 0
        with pytest.raises(ProgrammingError, match="permission denied"):
            conn.execute(text("SELECT COUNT(*) FROM stg_submission_row"))
    with engine.connect() as conn:
        conn.execute(text("SET ROLE tthc_bi"))
        with pytest.raises(ProgrammingError, match="permission denied"):
            conn.execute(text("DELETE FROM mart_area_kpi_monthly"))
    engine.dispose()


@pytest.mark.postgres
def test_concurrent_first_migrations_on_postgresql(pg_url):
    assert _exit_codes(migrate, [(pg_url,)] * 3) == [0, 0, 0]
    with transaction(pg_url) as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM schema_version WHERE version = 'V001__warehouse'")).scalar() == 1
    warehouse.get_engine(pg_url).dispose()

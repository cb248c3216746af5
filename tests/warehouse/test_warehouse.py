"""The warehouse's own machinery: SQL files, versioned migrations, the BI role, parallel writers."""

from __future__ import annotations

import multiprocessing

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import ProgrammingError

from tthc import warehouse
from tthc.warehouse import SqlFileError, migrate, models, models_in_order, read_sql, split_statements, transaction


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


# --- SQL files through Jinja, and the models ------------------------------------------------------

def _rendered_everywhere(dialect: str) -> dict[str, tuple[str, ...]]:
    from tthc.settings import SQL_DIR

    return {p.relative_to(SQL_DIR).as_posix(): read_sql(p.relative_to(SQL_DIR).as_posix(), dialect)
            for p in sorted(SQL_DIR.rglob("*.sql")) if p.parent.name != "macros"}


def test_sql_renders_alike_on_both_engines_but_where_a_macro_branches():
    """Jinja assembles the same text for SQLite and PostgreSQL; only re-creating a view differs
    (PostgreSQL drops the views built on it too), and bind parameters stay parameters."""
    lite, pg = _rendered_everywhere("sqlite"), _rendered_everywhere("postgresql")
    differing = sorted(name for name in lite if lite[name] != pg[name])
    assert differing == sorted(f"models/{name}.sql" for name in models_in_order("schema"))
    for name in differing:
        assert [s.replace(" CASCADE", "", 1) for s in pg[name]] == list(lite[name])
    insert = next(s for s in lite["models/mart_area_kpi_monthly.sql"] if "INSERT INTO" in s)
    assert ":year_start" in insert and ":period" in insert and "{" not in insert


def test_marts_run_in_the_order_of_what_they_read():
    period, rollup = models_in_order("period"), models_in_order("rollup")
    assert set(period) == {"ref_period_unit_key", "mart_unit_kpi_monthly", "mart_area_kpi_monthly",
                           "mart_submission_status"}
    assert set(rollup) == {"mart_unit_kpi_rollup", "mart_area_kpi_rollup"}
    everything = {name for kind in ("schema", "period", "rollup") for name in models_in_order(kind)}
    for name in everything:
        for read in models()[name].reads:  # read by a later model of its kind, or by an earlier kind
            kind = next(k for k in ("schema", "period", "rollup") if name in models_in_order(k))
            if read in models_in_order(kind):
                assert models_in_order(kind).index(read) < models_in_order(kind).index(name), (read, name)
    assert models()["mart_unit_kpi_monthly"].reads == ("core_figure", "ref_period_unit_key")  # via its macro


@pytest.fixture
def sql_dir(tmp_path, monkeypatch):
    """An include/sql of the test's own, with the renderer's caches emptied before and after."""
    from tthc.warehouse import sqlfiles

    def clear():
        for cached in (sqlfiles.models, sqlfiles._macros, sqlfiles._environment, sqlfiles.read_sql):
            cached.cache_clear()

    (tmp_path / "models").mkdir()
    (tmp_path / "macros").mkdir()
    monkeypatch.setattr(sqlfiles, "SQL_DIR", tmp_path)
    clear()
    yield tmp_path
    monkeypatch.undo()
    clear()


def test_models_reading_each_other_in_a_circle_are_refused(sql_dir):
    (sql_dir / "models" / "a.sql").write_text("{{ config(refresh='period') }}\nSELECT * FROM {{ ref('b') }};\n")
    (sql_dir / "models" / "b.sql").write_text("{{ config(refresh='period') }}\nSELECT * FROM {{ ref('a') }};\n")
    with pytest.raises(SqlFileError, match="models read each other in a circle: (a → b → a|b → a → b)"):
        models_in_order("period")


@pytest.mark.parametrize("files, message", [
    ({"models/a.sql": "SELECT * FROM {{ ref('nope') }};"}, r"models/a.sql: ref\('nope'\): no model include/sql/models/nope.sql"),
    ({"models/a.sql": "{{ config(refresh='weekly') }}"}, r"models/a.sql, line 1: expected config\(refresh=...\)"),
    ({"models/a.sql": "SELECT 1;\nSELECT {{ rate('x') }};"}, r"models/a.sql, line 2: 'rate' is undefined"),
    ({"macros/m.sql": "{% macro rate(x) %}\n{{ x / }}\n{% endmacro %}"}, r"macros/m.sql, line 2: unexpected"),
    ({"macros/m.sql": "{% macro rate(x) %}\n{{ x }} / {{ y }}\n{% endmacro %}",
      "models/a.sql": "SELECT {{ rate('x') }};"}, r"macros/m.sql, line 2 \(in include/sql/models/a.sql\): 'y' is undefined"),
    ({"macros/m.sql": "{% macro ref(x) %}{% endmacro %}"}, r"macros/m.sql, line 1: macro ref is also defined"),
])
def test_a_broken_sql_file_is_named_with_its_line(sql_dir, files, message):
    for name, body in files.items():
        (sql_dir / name).write_text(body + "\n")
    with pytest.raises(SqlFileError, match=message):
        models()
        read_sql("models/a.sql", "sqlite")


def _view_sql(conn, name: str) -> str:
    if conn.dialect.name == "sqlite":
        return conn.execute(text("SELECT sql FROM sqlite_master WHERE type = 'view' AND name = :n"), {"n": name}).scalar()
    return conn.execute(text("SELECT pg_get_viewdef(CAST(:n AS regclass))"), {"n": name}).scalar()


def _an_older_warehouse_gets_its_views_replaced(url: str) -> None:
    """A warehouse migrated before the views became models holds V002's views (the portal rule
    written in them): the next migrate replaces them by the models' current SQL."""
    migrate(url)
    with transaction(url) as conn:
        conn.execute(text("DROP VIEW core_effective_figure"))
        conn.execute(text("CREATE VIEW core_effective_figure AS SELECT f.* FROM core_figure f WHERE f.source = 'portal'"))
        assert "ref_source_precedence" not in _view_sql(conn, "core_effective_figure")
    assert migrate(url) == []
    with transaction(url) as conn:
        assert "ref_source_precedence" in _view_sql(conn, "core_effective_figure")
        assert conn.execute(text("SELECT COUNT(*) FROM core_effective_figure")).scalar() == 0


def test_an_older_embedded_warehouse_gets_its_views_replaced(tmp_path):
    _an_older_warehouse_gets_its_views_replaced(f"sqlite:///{tmp_path / 'w.sqlite'}")


@pytest.mark.postgres
def test_an_older_postgresql_warehouse_gets_its_views_replaced(pg_url):
    _an_older_warehouse_gets_its_views_replaced(pg_url)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_every_migration_has_its_own_version_number(dialect):
    from tthc.warehouse.migrations import schema_files

    numbers = [int(p.name[1:].split("__")[0]) for p in schema_files(dialect)]
    assert numbers == sorted(set(numbers)) and len(numbers) >= 6

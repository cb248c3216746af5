"""Shared fixtures. Airflow's settings are fixed here, before any test imports Airflow."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from tests.support import PG_ADMIN_URL, ROOT, require_postgres
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="tthc-airflow-"))
os.environ.update({
    "AIRFLOW_HOME": str(_AIRFLOW_HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
    "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}",
    "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(_AIRFLOW_HOME / "logs"),
})
# Tests never read the developer's own data folder or settings.
for _var in [v for v in os.environ if v.startswith("TTHC_")]:
    del os.environ[_var]


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's metadata DB (SQLite in a temp AIRFLOW_HOME), migrated once per session."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True,
                   capture_output=True, env=os.environ.copy())
    return _AIRFLOW_HOME


@pytest.fixture
def small_catalogue(tmp_path):
    """The folder of a catalogue of a few units and indicators (tests/support/catalogue.py), for tests
    that need *a* catalogue rather than the district's."""
    from tests.support.catalogue import SMALL_INDICATORS, SMALL_UNITS, write_catalogue

    return write_catalogue(tmp_path / "small_catalogue", units=SMALL_UNITS, indicators=SMALL_INDICATORS)


@pytest.fixture
def tthc_env(tmp_path, monkeypatch):
    """A fresh, empty installation: every TTHC path under tmp_path."""
    data = tmp_path / "data"
    share = tmp_path / "share"
    share.mkdir()
    monkeypatch.setenv("TTHC_DATA_DIR", str(data))
    monkeypatch.setenv("TTHC_SHARED_DRIVE", str(share))
    from tthc.settings import Settings

    return Settings.from_env()


@pytest.fixture
def pg_url():
    """A new, empty PostgreSQL database on the local server, dropped afterwards."""
    from tthc_testing import local_postgres

    require_postgres()
    name = f"tthc_test_{uuid.uuid4().hex[:10]}"
    url = local_postgres.create_database(PG_ADMIN_URL, name)
    yield url
    from tthc.warehouse import get_engine

    get_engine(url).dispose()
    local_postgres.drop_database(PG_ADMIN_URL, name)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """The monthly report of 2025-03 from the hand-written mart rows of tests/support/march_report.py."""
    from tests.support.march_report import written_report
    from tthc.warehouse import get_engine

    settings, result = written_report(tmp_path_factory.mktemp("report"))
    yield settings, result
    get_engine(settings.warehouse_url).dispose()

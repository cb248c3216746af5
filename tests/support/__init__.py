"""Helpers the tests share, imported as `from tests.support import drive` (tests/README.md).

Only paths and the local PostgreSQL server here: importing this package imports neither Airflow
nor the pipeline (SQLAlchemy only), so tests/conftest.py can use it before it fixes Airflow's settings."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

from tthc_testing import local_postgres

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN_URL = os.environ.get("TTHC_TEST_PG_ADMIN_URL", local_postgres.LOCAL_ADMIN_URL)


def pg_available() -> bool:
    return local_postgres.unreachable(PG_ADMIN_URL) is None


def missing(what: str) -> NoReturn:
    """Something a test needs from outside Python is not there: fail under CI (which must not skip),
    else skip."""
    import pytest

    if os.environ.get("CI"):
        pytest.fail(f"{what} (CI must not skip)")
    pytest.skip(what)


def require_postgres() -> None:
    if not pg_available():
        missing(f"PostgreSQL is not reachable at {PG_ADMIN_URL}")

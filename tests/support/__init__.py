"""Helpers the tests share, imported as `from tests.support import drive` (tests/README.md).

Only paths and the local PostgreSQL server's address here: importing this package imports neither
Airflow nor the pipeline, so tests/conftest.py can use it before it fixes Airflow's settings."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN_URL = os.environ.get("TTHC_TEST_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


def pg_available() -> bool:
    from sqlalchemy import create_engine, text

    try:
        with create_engine(PG_ADMIN_URL).connect() as c:
            c.execute(text("SELECT 1"))
        return True
    except Exception:
        return False

"""The warehouse's application role, as deploy/warehouse-db/10-tthc-roles.sql makes it in the compose file."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import uuid
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import create_engine, make_url, text

from tests.support import ROOT

ROLES_SQL = ROOT / "deploy" / "warehouse-db" / "10-tthc-roles.sql"


@contextmanager
def app_role_warehouse(admin_url: str) -> Iterator[tuple[str, str]]:
    """Run the roles script with psql as the server's superuser (as the postgres image does on its
    first start), for a new role and database; yield (URL logging in as that role, role name).
    Both are dropped afterwards."""
    tag = uuid.uuid4().hex[:10]
    role, database, password = f"tthc_app_{tag}", f"tthc_wh_{tag}", secrets.token_hex(16)
    admin = make_url(admin_url)
    if shutil.which("psql") is None:
        raise RuntimeError("psql not found: install the Debian package postgresql-client")
    env = {**os.environ, "PGHOST": admin.host or "127.0.0.1", "PGPORT": str(admin.port or 5432),
           "PGUSER": admin.username or "postgres", "PGPASSWORD": admin.password or "",
           "TTHC_WAREHOUSE_ROLE": role, "TTHC_WAREHOUSE_DB": database, "TTHC_WAREHOUSE_PASSWORD": password}
    done = subprocess.run(["psql", "-X", "-q", "-d", admin.database or "postgres", "-f", str(ROLES_SQL)],
                          env=env, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"{ROLES_SQL.name} failed: {done.stderr}")
    url = admin.set(username=role, password=password, database=database).render_as_string(hide_password=False)
    try:
        yield url, role
    finally:
        from tthc.warehouse import get_engine

        get_engine(url).dispose()
        engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            c.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        engine.dispose()

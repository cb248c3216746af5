"""The versioned schema (include/sql/schema/[<dialect>/]V*.sql), applied once, and the derived views
(models declaring refresh='schema'), re-created from their current SQL: one locked transaction."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection

from ..settings import SQL_DIR, Settings
from .engine import WarehouseError, execute_file, lock_for_writing, now_local, transaction
from .sqlfiles import MODELS_DIR, models_in_order


def migrate(url: str) -> list[str]:
    """Apply the versioned schema files (include/sql/schema/[<dialect>/]V*.sql) not yet applied, then
    re-create the derived views, so a changed view needs no migration. A migration changing a column
    a view reads drops that view first (it is re-created right after). Returns the versions applied."""
    applied_now = []
    with transaction(url) as conn:
        # Parallel first runs must not race on the DDL: writers queue (SQLite) or take the lock (PostgreSQL).
        lock_for_writing(conn)
        conn.execute(text("CREATE TABLE IF NOT EXISTS schema_version (version TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"))
        # Portable files, then those for this engine only (schema/<dialect>/), in version order.
        files = schema_files(conn.dialect.name)
        done = {r[0] for r in conn.execute(text("SELECT version FROM schema_version"))}
        for path in files:
            version = path.stem
            if version in done:
                continue
            execute_file(conn, str(path.relative_to(SQL_DIR)))
            conn.execute(text("INSERT INTO schema_version (version, applied_at) VALUES (:v, :t)"),
                         {"v": version, "t": now_local()})
            applied_now.append(version)
        for view in models_in_order("schema"):
            execute_file(conn, f"{MODELS_DIR}/{view}")
    return applied_now


def schema_files(dialect: str) -> list[Path]:
    """The migrations for an engine in version order. Two files with one version number (branches
    merged without renumbering) would apply in an arbitrary order: refused."""
    files = [*(SQL_DIR / "schema").glob("V*.sql"), *(SQL_DIR / "schema" / dialect).glob("V*.sql")]
    by_number: dict[int, list[str]] = {}
    for path in files:
        by_number.setdefault(int(path.name[1:].split("__")[0]), []).append(path.name)
    clashes = {n: names for n, names in by_number.items() if len(names) > 1}
    if clashes:
        raise WarehouseError(f"migrations share a version number: {clashes}")
    return sorted(files, key=lambda p: int(p.name[1:].split("__")[0]))


def prepare(settings: Settings) -> list[str]:
    """The settings' warehouse, migrated: what every step calls before it reads or writes."""
    return migrate(settings.warehouse_url)

"""The SQL warehouse: engine and SQL files (engine), versioned schema (migrations), staging → core (load)."""

from .engine import (
    WarehouseError,
    execute_file,
    execute_many,
    get_engine,
    lock_for_writing,
    now_local,
    query,
    read_sql,
    split_statements,
    transaction,
)
from .migrations import migrate, prepare

__all__ = ["WarehouseError", "execute_file", "execute_many", "get_engine", "lock_for_writing", "migrate", "now_local",
           "prepare", "query", "read_sql", "split_statements", "transaction"]

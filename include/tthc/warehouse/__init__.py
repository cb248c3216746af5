"""The SQL warehouse: SQL files and models (sqlfiles), engine, versioned schema (migrations), staging → core (load)."""

from .engine import (WarehouseError, connection, execute_file, execute_many, get_engine, lock_for_writing, now_local,
                     query, transaction)
from .migrations import migrate, prepare
from .sqlfiles import MODELS_DIR, SqlFileError, models, models_in_order, read_sql, split_statements

__all__ = ["MODELS_DIR", "SqlFileError", "WarehouseError", "connection", "execute_file", "execute_many", "get_engine",
           "lock_for_writing", "migrate", "models", "models_in_order", "now_local", "prepare", "query", "read_sql",
           "split_statements", "transaction"]

"""The pipeline's steps for one period in the DAG's order, and a warehouse query, as the warehouse tests
run and read them (tthc.orchestration, as the tasks call it)."""

from __future__ import annotations

from sqlalchemy import text

from tthc import orchestration
from tthc.warehouse import transaction


def run_period(settings, period):
    """Ingest the share, then validate, load and aggregate `period`; returns the aggregation's summary."""
    orchestration.ingest_shared_drive(settings)
    orchestration.validate_period(settings, period)
    orchestration.load_period(settings, period)
    return orchestration.aggregate_period(settings, period)


def rows(settings, sql: str, **params) -> list[dict]:
    with transaction(settings.warehouse_url) as conn:
        return [dict(r._mapping) for r in conn.execute(text(sql), params)]

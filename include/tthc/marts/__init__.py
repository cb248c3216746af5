"""Core → marts: the public monthly marts of a period, and the cascade a change sets off (later months'
year to date, the roll-ups that include it)."""

from __future__ import annotations

import logging

from .. import warehouse
from ..periods import Period
from ..settings import Settings
from ..warehouse import execute_file, query, transaction

log = logging.getLogger(__name__)


# ref_period_unit_key first: the year-to-date models count old units under their successors.
MART_MODELS = ("models/ref_period_unit_key", "models/mart_unit_kpi_monthly", "models/mart_area_kpi_monthly",
               "models/mart_submission_status")


def aggregate_period(settings: Settings, period: Period) -> dict:
    """Core → marts for the period, and again for later periods of its year already aggregated
    (their year-to-date totals include this month), and the roll-ups (quarters, half-years, the
    year) already computed that include it or end later in its year. One transaction."""
    from .rollups import refresh_rollups_after

    warehouse.prepare(settings)
    with transaction(settings.warehouse_url) as conn:
        warehouse.lock_for_writing(conn)
        later = [r["period"] for r in query(conn, "queries/later_aggregated_periods", p=period.label,
                                            year_end=f"{period.year}-12")]
        for label in [period.label, *later]:
            p = Period.parse(label)
            for model in MART_MODELS:
                execute_file(conn, model, period=p.label, year=p.year, year_start=p.year_to_date()[0].label)
        rollups = refresh_rollups_after(conn, period, settings.calendar)
        status = {r["status"]: r["units"] for r in query(conn, "queries/submission_status_counts", p=period.label)}
        (area,) = query(conn, "queries/area_kpi_counts", p=period.label)
    summary = {"period": period.label, "status": status, "indicators": area["indicators"],
               "indicators_meeting_target": int(area["meeting_target"] or 0), "refreshed_later_periods": later,
               "refreshed_rollups": rollups}
    log.info("aggregated %s", summary)
    return summary

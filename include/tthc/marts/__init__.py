"""Core → marts: the public monthly marts of a period, and the cascade a change sets off (later months'
year to date, the roll-ups that include it).

The marts are the models of include/sql/models/ declaring `config(refresh='period')` (a month's) or
`'rollup'` (rollups.py), run in the order of what each reads (`ref()`): adding a mart is adding a file.
"""

from __future__ import annotations

import logging

from .. import warehouse
from ..periods import Period
from ..settings import Settings
from ..warehouse import MODELS_DIR, execute_file, models_in_order, query, transaction

log = logging.getLogger(__name__)


def refresh_period(conn, period: Period) -> None:
    """The month's marts, in the caller's transaction."""
    for model in models_in_order("period"):
        execute_file(conn, f"{MODELS_DIR}/{model}", period=period.label, year=period.year,
                     year_start=period.year_to_date()[0].label)


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
            refresh_period(conn, Period.parse(label))
        rollups = refresh_rollups_after(conn, period, settings.calendar)
        status = {r["status"]: r["units"] for r in query(conn, "queries/submission_status_counts", p=period.label)}
        (area,) = query(conn, "queries/area_kpi_counts", p=period.label)
    summary = {"period": period.label, "status": status, "indicators": area["indicators"],
               "indicators_meeting_target": int(area["meeting_target"] or 0), "refreshed_later_periods": later,
               "refreshed_rollups": rollups}
    log.info("aggregated %s", summary)
    return summary

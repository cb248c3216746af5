"""Quarterly, half-year and annual roll-ups (Decree 09 periods: year 2025 = 15/12/2024 → 14/12/2025)
from the monthly core figures.

aggregate_rollup(settings, '2025-Q1') → mart_area_kpi_rollup, mart_unit_kpi_rollup
(orchestration.report_rollup then writes reports/2025-Q1/BaoCao_TTHC_2025-Q1.docx + .xlsx)

A roll-up is computed from months already aggregated (their ref_period_unit_indicator rows and
ref_period_unit_key, written by load_period / aggregate_period); re-aggregating a month refreshes the
roll-ups of its year already computed (marts.aggregate_period), so a backfill or a correction
never leaves a stale quarter.
"""

from __future__ import annotations

import logging

from .. import warehouse
from ..calendar import ReportingCalendar
from ..periods import Period, RollupPeriod
from ..settings import Settings
from ..warehouse import execute_file, query, transaction

log = logging.getLogger(__name__)

ROLLUP_MODELS = ("models/mart_unit_kpi_rollup", "models/mart_area_kpi_rollup")


class MonthsNotAggregated(RuntimeError):
    """A roll-up asked for before every month of it was aggregated."""


def _rollup(label: str | RollupPeriod) -> RollupPeriod:
    return label if isinstance(label, RollupPeriod) else RollupPeriod.parse(label)


def months_aggregated(settings: Settings, label: str | RollupPeriod) -> dict:
    """Which months of the roll-up have their marts (mart_area_kpi_monthly rows) and which not yet."""
    rollup = _rollup(label)
    warehouse.migrate(settings.warehouse_url)
    with transaction(settings.warehouse_url) as conn:
        done = {r["period"] for r in query(conn, "queries/aggregated_months", a=rollup.first.label,
                                           b=rollup.last.label)}
    months = [p.label for p in rollup.months]
    return {"rollup_period": rollup.label, "months": months, "aggregated": [m for m in months if m in done],
            "missing": [m for m in months if m not in done]}


def refresh_rollup(conn, rollup: RollupPeriod, calendar: ReportingCalendar) -> None:
    """The roll-up's marts, in the caller's transaction."""
    start, end = calendar.bounds(rollup)
    execute_file(conn, "loads/ref_rollup_period", r=rollup.label, f=rollup.frequency, a=rollup.first.label,
                 b=rollup.last.label, n=len(rollup.months), scheme=calendar.scheme, start=start.isoformat(),
                 end=end.isoformat())
    for model in ROLLUP_MODELS:
        execute_file(conn, model, rollup_period=rollup.label, first_period=rollup.first.label,
                     last_period=rollup.last.label, year=rollup.year)


def refresh_rollups_after(conn, period: Period, calendar: ReportingCalendar) -> list[str]:
    """Roll-ups already computed that a re-aggregated month changes: those of its year ending at or
    after it (their own figures, or their year to date), each under the scheme it was computed with.
    Called inside aggregate_period."""
    rows = query(conn, "queries/rollups_to_refresh", p=period.label, year_end=f"{period.year}-12")
    refreshed = []
    for label, scheme in ((r["rollup_period"], r["period_scheme"]) for r in rows):
        rollup = RollupPeriod.parse(label)
        (done,) = (r["months"] for r in query(conn, "queries/aggregated_month_count", a=rollup.first.label,
                                              b=rollup.last.label))
        if done == len(rollup.months):
            refresh_rollup(conn, rollup, calendar.with_scheme(scheme))
            refreshed.append(label)
    return refreshed


def aggregate_rollup(settings: Settings, label: str | RollupPeriod) -> dict:
    """Monthly core figures → the roll-up marts for '2025-Q1', '2025-H1' or '2025', in one transaction.
    Every month of the roll-up must have been aggregated (MonthsNotAggregated otherwise)."""
    rollup = _rollup(label)
    progress = months_aggregated(settings, rollup)
    if progress["missing"]:
        raise MonthsNotAggregated(f"kỳ {rollup.label}: chưa tổng hợp các tháng {', '.join(progress['missing'])}")
    with transaction(settings.warehouse_url) as conn:
        warehouse.lock_for_writing(conn)
        refresh_rollup(conn, rollup, settings.calendar)
        (area,) = query(conn, "queries/rollup_area_counts", r=rollup.label)
        (units,) = query(conn, "queries/rollup_unit_counts", r=rollup.label)
    summary = {"rollup_period": rollup.label, "months": progress["months"], "indicators": area["indicators"],
               "indicators_meeting_target": int(area["meeting_target"] or 0), "units": units["units"],
               "units_including_predecessors": units["with_predecessors"]}
    if rollup.frequency == "year":
        summary["stretch_met"], summary["stretch_judged"] = int(area["stretch_met"] or 0), area["stretch_judged"]
    log.info("rolled up %s", summary)
    return summary

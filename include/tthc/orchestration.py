"""The pipeline's steps in order, for the DAG tasks and the `tthc` CLI (which call these same functions).

sources (shared drive, portal) → checks → warehouse load → marts → reports. Each step returns a small
JSON-serialisable summary (it becomes the task's XCom and the CLI's output).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import datetime

from . import warehouse
from .catalogue import load_catalogue
from .checks.submissions import validate_period
from .marts import aggregate_period
from .marts.reconciliation import reconcile
from .marts.rollups import MonthsNotAggregated, aggregate_rollup, months_aggregated
from .periods import Period, PeriodError, RollupPeriod
from .settings import Settings
from .sources.portal.privacy import salt_from_env
from .sources.portal.stage import (PortalBatchQuarantined, compute_portal_indicators, fetch_portal_unit,
                                  ingest_portal_unit, ingest_portal_units, load_portal_units)
from .sources.shared_drive.stage import ingest_shared_drive
from .warehouse import transaction
from .warehouse.load import load_period

# The steps, by source and layer, for the DAG tasks and the CLI (heavy libraries load inside each step).
__all__ = ["MonthsNotAggregated", "PortalBatchQuarantined", "aggregate_period", "aggregate_rollup",
           "compute_portal_indicators", "deadline_passed", "fetch_portal_unit", "ingest_portal_unit",
           "ingest_portal_units", "ingest_shared_drive", "load_period", "load_portal", "months_aggregated",
           "periods_to_rerun", "portal_units", "reconcile", "report_period", "report_rollup", "reports_changed_by",
           "run_pipeline", "run_portal", "run_rollup", "submission_progress", "validate_period", "write_report"]

log = logging.getLogger(__name__)


def submission_progress(settings: Settings, period: Period, now: datetime | None = None) -> dict:
    """Which units that must report have a valid submission so far, and whether the deadline passed."""
    ingest_shared_drive(settings)
    validate_period(settings, period)
    catalogue = load_catalogue(settings)
    with transaction(settings.warehouse_url) as conn:
        received = {r["unit_code"] for r in warehouse.query(conn, "queries/units_with_valid_submission",
                                                           period=period.label)}
    expected = catalogue.units_in(period, settings.calendar)
    missing = [[u.code, u.name] for u in expected if u.code not in received]
    deadline = settings.calendar.deadline(period)
    progress = {"period": period.label, "expected": len(expected), "received": len(expected) - len(missing),
                "missing": missing, "deadline": deadline.last_day.isoformat(),
                "deadline_passed": deadline_passed(settings, period, now)}
    log.info("submissions for %s: %d/%d, deadline end of %s; missing: %s", period.label, progress["received"],
             progress["expected"], deadline, ", ".join(code for code, _ in missing) or "none")
    return progress


def periods_to_rerun(settings: Settings) -> list[str]:
    """Periods already reported that have a file version (late or corrected) first seen after their
    last validation began, whichever run's ingest recorded it."""
    ingest_shared_drive(settings)
    with transaction(settings.warehouse_url) as conn:
        return [r["period"] for r in warehouse.query(conn, "queries/periods_with_newer_files")]


def deadline_passed(settings: Settings, period: Period, now: datetime | None = None) -> bool:
    return settings.calendar.deadline_passed(period, now)


def report_period(settings: Settings, period: Period) -> dict:
    """The period's Word and Excel report; a period not yet ended has none (PeriodNotClosed)."""
    from .reports import monthly_report_data, write_monthly_reports

    settings.calendar.require_closed(period)
    catalogue = load_catalogue(settings)
    started = time.perf_counter()
    # Drawn after the transaction: on SQLite it holds the write lock, and reports written at once
    # (the report DAG's mapped tasks) would otherwise draw one after another.
    with transaction(settings.warehouse_url) as conn:
        data = monthly_report_data(conn, period, settings, catalogue)
    return write_monthly_reports(data, settings, started)


def portal_units(settings: Settings, period: Period) -> list[str]:
    """Units whose dossiers are fetched for the period: every unit that existed during it, so that
    in 2025-07 (15/06–14/07) the old units' dossiers of 15–30/06 are fetched too (they count under
    their successors: compute_portal_indicators). None, with a one-line notice, without a portal."""
    if not settings.portal_url:
        log.info("portal not configured (no TTHC_PORTAL_URL or tthc_portal connection): portal source skipped")
        return []
    salt_from_env()  # no salt, no fetch: refused here, once, rather than in every unit's task
    return [u.code for u in load_catalogue(settings).units_during(period, settings.calendar)]


def run_portal(settings: Settings, period: Period) -> dict:
    """Every unit's dossiers (a quarantined unit does not stop the others), then the portal figures
    and the reconciliation with the self-reports. A portal that refuses or fails raises PortalError."""
    units = portal_units(settings, period)
    if not units:
        return {"period": period.label, "skipped": True}
    summary = _portal_summary(period, ingest_portal_units(settings, period, units))
    return dict(summary, indicators=compute_portal_indicators(settings, period),
                reconciliation=reconcile(settings, period))


def load_portal(settings: Settings, period: Period, units: list[str]) -> dict:
    """The units' batches fetched by fetch_portal_unit, checked together and loaded (the DAG's task
    after the mapped fetches; `tthc run` does the same through ingest_portal_units)."""
    return _portal_summary(period, load_portal_units(settings, period, units))


def _portal_summary(period: Period, outcomes: dict) -> dict:
    """Each unit's outcome, and the reasons of the quarantined ones."""
    summary = {"period": period.label, "units": {}, "quarantined": {}}
    for unit, outcome in outcomes.items():
        if isinstance(outcome, PortalBatchQuarantined):
            log.warning("%s", outcome)
            summary["units"][unit] = "quarantined"
            summary["quarantined"][unit] = outcome.reasons
        else:
            summary["units"][unit] = outcome["outcome"]
    return summary


def run_pipeline(settings: Settings, period: Period) -> dict:
    """The whole pipeline for one period (what `tthc run` does), and every report its marts update
    changed: the later months whose year to date moved and the roll-ups that include it. A period not
    yet ended is refused before anything is read or written (PeriodNotClosed)."""
    settings.calendar.require_closed(period)
    summary = {
        "ingest": ingest_shared_drive(settings),
        "validate": validate_period(settings, period),
        "load": load_period(settings, period),
    }
    summary["portal"] = run_portal(settings, period)
    summary["aggregate"] = aggregate_period(settings, period)
    summary["report"] = report_period(settings, period)
    changed = reports_changed_by([summary["aggregate"]])
    summary["refreshed_reports"] = [write_report(settings, label) for label in changed if label != period.label]
    return summary


def reports_changed_by(changes: Iterable[dict]) -> list[str]:
    """The reports some marts updates changed, each once: months (each update's period and the later
    periods whose year to date it refreshed) in order, then the roll-ups it refreshed. `changes` are
    aggregate_period summaries, or the `tthc_marts` asset events' extras (the same keys)."""
    months, rollups = set(), set()
    for change in changes:
        if change.get("period"):
            months.add(Period.parse(change["period"]).label)
        months.update(Period.parse(p).label for p in change.get("refreshed_later_periods") or ())
        rollups.update(RollupPeriod.parse(r).label for r in change.get("refreshed_rollups") or ())
    return sorted(months) + sorted(rollups, key=lambda r: (RollupPeriod.parse(r).last.label, r))


def write_report(settings: Settings, label: str) -> dict:
    """The report of a month ('2025-03') or of a roll-up ('2025-Q1', '2025-H1', '2025')."""
    try:
        period = Period.parse(label)
    except PeriodError:
        return report_rollup(settings, RollupPeriod.parse(label))
    return report_period(settings, period)


def report_rollup(settings: Settings, label: str | RollupPeriod) -> dict:
    """The roll-up's Word and Excel report under <reports_dir>/<label>/."""
    from .reports import load_rollup_report_data, write_rollup_report

    rollup = RollupPeriod.parse(label) if isinstance(label, str) else label
    settings.calendar.require_closed(rollup)
    started = time.perf_counter()
    with transaction(settings.warehouse_url) as conn:  # drawn after it, as report_period's
        data = load_rollup_report_data(conn, rollup, settings, load_catalogue(settings))
    return write_rollup_report(data, settings, started)


def run_rollup(settings: Settings, label: str | RollupPeriod) -> dict:
    return {"aggregate": aggregate_rollup(settings, label), "report": report_rollup(settings, label)}

"""Staging → core for one period: the catalogue as reference tables, then the core models."""

from __future__ import annotations

import logging
from dataclasses import asdict

from ..catalogue import Catalogue, load_catalogue
from ..periods import Period
from ..settings import Settings
from .engine import execute_file, execute_many, lock_for_writing, query, transaction
from .migrations import prepare

log = logging.getLogger(__name__)


def refresh_reference(conn, catalogue: Catalogue, period: Period, settings: Settings) -> None:
    """The catalogue's current content and the period's expected units, as tables SQL can join."""
    calendar = settings.calendar
    execute_file(conn, "loads/ref_unit_clear")
    execute_many(conn, "loads/ref_unit",
                 [dict(asdict(u), valid_from=u.valid_from.isoformat(),
                       valid_to=u.valid_to.isoformat() if u.valid_to else None) for u in catalogue.units.values()])
    execute_file(conn, "loads/ref_indicator_clear")
    execute_many(conn, "loads/ref_indicator", [asdict(i) for i in catalogue.indicators.values()])
    execute_file(conn, "loads/ref_target_clear")
    execute_many(conn, "loads/ref_target", [asdict(t) for t in catalogue.targets.values()])
    start, end = calendar.bounds(period)
    execute_file(conn, "loads/ref_period", period=period.label, scheme=calendar.scheme, start=start.isoformat(),
                 end=end.isoformat(), deadline=calendar.deadline(period).end.isoformat())
    execute_file(conn, "loads/ref_period_unit_indicator_clear", period=period.label)
    execute_many(conn, "loads/ref_period_unit_indicator",
                 [{"period": period.label, "unit": u.code, "indicator": i.code}
                  for u in catalogue.units_in(period, calendar) for i in catalogue.applicable(u)])


def load_period(settings: Settings, period: Period) -> dict:
    """Staging → core for one period, in one transaction (a failure leaves the warehouse as it was)."""
    catalogue = load_catalogue(settings)
    prepare(settings)
    with transaction(settings.warehouse_url) as conn:
        lock_for_writing(conn)
        refresh_reference(conn, catalogue, period, settings)
        execute_file(conn, "models/core_submission", period=period.label)
        execute_file(conn, "models/core_unit_indicator", period=period.label)
        (counts,) = query(conn, "queries/load_counts", p=period.label)
    summary = {"period": period.label, "submissions": counts["submissions"], "figures": counts["figures"]}
    log.info("loaded %s", summary)
    return summary

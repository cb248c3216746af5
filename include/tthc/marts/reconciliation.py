"""mart_reconciliation: self-reported figures far from the portal's figure for the same unit-period."""

from __future__ import annotations

import logging

from .. import warehouse
from ..periods import Period
from ..settings import Settings
from ..warehouse import execute_file, query, transaction

log = logging.getLogger(__name__)

# Percentage points between a self-report and the portal's figure that the report lists.
DISCREPANCY_POINTS = 5.0


def reconcile(settings: Settings, period: Period, points: float | None = None) -> dict:
    """mart_reconciliation for the period: self-reports more than `points` (default: the report's
    threshold, 5) away from the portal's figure. Run after both sources' figures are loaded."""
    if points is None:
        points = DISCREPANCY_POINTS
    warehouse.prepare(settings)
    with transaction(settings.warehouse_url) as conn:
        warehouse.lock_for_writing(conn)
        execute_file(conn, "models/reconciliation", period=period.label, points=points)
        (listed,) = (r["discrepancies"] for r in query(conn, "queries/reconciliation_count", period=period.label))
    summary = {"period": period.label, "points": points, "discrepancies": listed}
    log.info("reconciled %s", summary)
    return summary

"""Every DAG run that processes a reporting period says which, in Vietnamese, as its run note.

    Kỳ báo cáo tháng 03/2025 (15/02/2025 – 14/03/2025)

Airflow 3.3's task SDK can read a run's note but not set it (only TriggerDagRunOperator sets the
note of the run it creates), and a task calling the REST API would need credentials. So the note is
set by a listener in the scheduler (`on_dag_run_running`, called when a queued run starts, inside
the scheduler's own transaction), for every run type: scheduled, backfill, manual, asset-triggered.
A note already there (typed in the trigger form, or set before a clear) is kept.

- DAGs on the ReportingPeriodTimetable (monthly, quarterly, half-year, annual): the period in the
  run's conf `period`, else the period that is the run's data interval.
- DAGs started by the `tthc_marts` asset (the report): the periods named by the asset events the
  run consumed (joined by "; "), or its conf `period`.

Light to import (the scheduler, API server and DAG processor load every plugin): the timetable
plugin and the standard library only.
"""

from __future__ import annotations

import logging
import os

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin
from tthc_timetables import ReportingPeriodTimetable, period_words  # plugins/, registered by its plugin

log = logging.getLogger(__name__)
NOTE_LIMIT = 1000  # dag_run_note.content is VARCHAR(1000)


def run_note(dag_run) -> str | None:
    """The note naming the period(s) `dag_run` processes, or None when it processes none."""
    conf = dag_run.conf or {}
    timetable = getattr(dag_run.dag, "timetable", None)
    if isinstance(timetable, ReportingPeriodTimetable) or type(timetable).__name__ == "ReportingPeriodTimetable":
        if conf.get("period"):
            return period_words(str(conf["period"]), timetable.scheme, timetable.tz)
        return timetable.describe(dag_run.data_interval_start, dag_run.data_interval_end)
    scheme = os.environ.get("TTHC_PERIOD_SCHEME") or "decree09"
    labels = [str(conf["period"])] if conf.get("period") else sorted(
        {str(e.extra["period"]) for e in (dag_run.consumed_asset_events or []) if (e.extra or {}).get("period")})
    if not labels:
        return None
    return "; ".join(period_words(label, scheme) for label in labels)[:NOTE_LIMIT]


class RunNotes:
    @hookimpl
    def on_dag_run_running(self, dag_run, msg: str) -> None:
        try:
            if dag_run.note:
                return
            note = run_note(dag_run)
            if note:
                dag_run.note = note
        except Exception:  # a note is never worth a scheduling error
            log.warning("tthc run note: none for %s %s", dag_run.dag_id, dag_run.run_id, exc_info=True)


class TthcRunNotesPlugin(AirflowPlugin):
    name = "tthc_run_notes"
    listeners = [RunNotes()]

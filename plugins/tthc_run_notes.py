"""Every DAG run that processes a reporting period says which, in Vietnamese, as its run note.

    Kỳ báo cáo tháng 03/2025 (15/02/2025 – 14/03/2025)

Airflow 3.3's task SDK can read a run's note but not set it (only TriggerDagRunOperator sets the
note of the run it creates), and a task calling the REST API would need credentials. So the note is
set by a listener in the scheduler (`on_dag_run_running`, called when a queued run starts, inside
the scheduler's own transaction), for every run type: scheduled, backfill, manual, asset-triggered.
A note already there (typed in the trigger form, or set before a clear) is kept.

- DAGs on the ReportingPeriodTimetable (monthly, quarterly, half-year, annual): the period the run
  processes, by the calendar's one rule (tthc.calendar.ReportingCalendar.period_of_run: `period` in
  the conf, else the period holding the logical date, else the data interval's).
- DAGs started by the `tthc_marts` asset (the reports): the reports the asset events it will read
  changed (tthc.orchestration.reports_changed_by), or its conf `period`; joined by "; ".

Light to import (the scheduler, API server and DAG processor load every plugin): heavier modules
are imported when a note is first written, in the scheduler only.
"""

from __future__ import annotations

import logging

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin
from tthc_timetables import ReportingPeriodTimetable  # plugins/, registered by its plugin

log = logging.getLogger(__name__)
NOTE_LIMIT = 1000  # dag_run_note.content is VARCHAR(1000)


def run_note(dag_run) -> str | None:
    """The note naming the period(s) `dag_run` processes, or None when it processes none."""
    conf = dag_run.conf or {}
    timetable = getattr(dag_run.dag, "timetable", None)
    if type(timetable).__name__ == ReportingPeriodTimetable.__name__:  # the plugin module may load twice
        calendar = timetable.calendar
        run_type = getattr(dag_run, "run_type", None)
        period = calendar.period_of_run(
            timetable.frequency, requested=conf.get("period"), logical_date=dag_run.logical_date,
            data_interval=(dag_run.data_interval_start, dag_run.data_interval_end)
            if dag_run.data_interval_start and dag_run.data_interval_end else None,
            run_after=dag_run.run_after, run_type=getattr(run_type, "value", run_type))
        return calendar.words(period)
    events = [e.extra or {} for e in _asset_events(dag_run)]
    if not conf.get("period") and not any(e.get("period") for e in events):
        return None
    from tthc.orchestration import reports_changed_by
    from tthc_airflow import reporting_calendar

    calendar = reporting_calendar()
    labels = [str(conf["period"])] if conf.get("period") else reports_changed_by(events)
    return "; ".join(calendar.words(calendar.parse(label, None)) for label in labels)[:NOTE_LIMIT]


def _asset_events(dag_run) -> list:
    """The events the run consumed, and the later ones of the same assets (as the report DAG's first
    task reads them, its `inlet_events`): Airflow hands a run only the events up to its queue
    entry's creation, however many arrived while an earlier run was active."""
    from sqlalchemy import select
    from sqlalchemy.orm import object_session
    from sqlalchemy.orm.exc import UnmappedInstanceError

    consumed = list(dag_run.consumed_asset_events or [])
    try:
        session = object_session(dag_run)
    except UnmappedInstanceError:  # a run not from the database (tests)
        session = None
    if not consumed or session is None:
        return consumed
    from airflow.models.asset import AssetEvent

    seen = {e.id for e in consumed}
    later = session.scalars(select(AssetEvent).where(
        AssetEvent.asset_id.in_({e.asset_id for e in consumed}),
        AssetEvent.timestamp >= min(e.timestamp for e in consumed)).order_by(AssetEvent.timestamp)).all()
    return consumed + [e for e in later if e.id not in seen]


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

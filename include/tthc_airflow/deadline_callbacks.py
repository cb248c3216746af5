"""Deadline Alert callbacks (Airflow 3.1+): ``DeadlineAlert(callback=AsyncCallback(deadline_alert_callback, ...))``.

An AsyncCallback runs in the triggerer, which imports it by its path: it must stay a top-level
function of an importable module. It builds the run-deadline alert (`tthc.alerts`) and hands it to the
channels' one delivery path (`notifiers.send_alert`) in a worker thread, so the hooks' blocking I/O
never stalls the triggerer's event loop.
"""

from __future__ import annotations

import asyncio
import logging

from tthc.alerts import Alert, as_datetime, first_line, period_label, run_deadline_alert
from tthc.calendar import ReportingCalendar
from tthc.periods import Period

from . import reporting_calendar
from .notifiers import send_alert

log = logging.getLogger(__name__)


def _dag_run_period(dag_run: dict, kwargs: dict, calendar: ReportingCalendar) -> str | None:
    """The period of the run the deadline is about: kwargs `period`, else the run's (its conf, its
    logical date, its data interval: ReportingCalendar.period_of_run)."""
    label = period_label(kwargs.get("period")) or period_label((dag_run.get("conf") or {}).get("period"))
    start, end, logical = (as_datetime(dag_run[k]) if dag_run.get(k) else None
                           for k in ("data_interval_start", "data_interval_end", "logical_date"))
    if not label and (logical or (start and end)):
        label = calendar.period_of_run(logical_date=logical,
                                       data_interval=(start, end) if start and end else None).label
    return label


def _deadline_alert(context: dict | None, kwargs: dict) -> Alert:
    """What Airflow 3.3 passes (airflow.models.deadline.Deadline.handle_miss): context = {"dag_run":
    DAGRunResponse as JSON (dag_run_id, dag_id, logical_date, data_interval_start/end, conf, ...),
    "deadline": {"id", "deadline_time"}} — no task instance, no full template context."""
    context = context or {}
    dag_run = context.get("dag_run") or {}
    calendar = reporting_calendar()
    label = _dag_run_period(dag_run, kwargs, calendar)
    # The submission deadline shown, not Airflow's alert time: kwargs `deadline`, else the period's own.
    deadline = kwargs.get("deadline") or (calendar.deadline(Period.parse(label)) if label else None)
    return run_deadline_alert(label, run_id=dag_run.get("dag_run_id") or dag_run.get("run_id"),
                              alert_time=(context.get("deadline") or {}).get("deadline_time"), deadline=deadline,
                              missing_units=kwargs.get("missing_units") or [], dag_id=dag_run.get("dag_id"),
                              reason=kwargs.get("reason"), calendar=calendar)


async def deadline_alert_callback(context: dict | None = None, **kwargs) -> dict:
    """AsyncCallback for DeadlineAlert (runs in the triggerer): the period's run had not succeeded by
    Airflow's deadline. kwargs (all optional, JSON-serialisable): period; deadline (ISO date shown as
    the submission deadline; default: the period's own, from the deployment's reporting calendar);
    missing_units [[code, name], ...]; reason. Never raises."""
    try:
        alert = _deadline_alert(context, kwargs)
    except Exception as exc:
        log.warning("TTHC deadline alert: could not build the message: %s: %s", type(exc).__name__,
                    first_line(exc))
        return {"sent": {}}
    return {"sent": await asyncio.to_thread(send_alert, alert), "message_vi": alert.message_vi}

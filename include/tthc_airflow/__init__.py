"""What the DAG files share: settings from Airflow variables/connections, the reporting calendar
and the period of a run.

Kept out of the `tthc` package, which never imports Airflow; installed beside it by pyproject.toml.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Asset

OWNER = "tthc-ops"
MARTS_ASSET = Asset("tthc_marts")
# The tthc_marts events whose reports the report DAG's last complete run wrote (asset_event_key each).
REPORTED_EVENTS_VARIABLE = "tthc_reported_marts_events"
# Portal fetches run in this pool so ~100 units' mapped tasks never flood the provincial portal.
PORTAL_POOL = "tthc_portal"


def _default_args() -> dict:
    from .notifiers import tthc_alerts

    return {
        "owner": OWNER,
        "retries": 2,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
        # No task may hang a run: a shared-drive file is parsed under its own limits (≤ 30 s each),
        # a portal fetch retries with backoff; anything still running after this is killed and alerted.
        "execution_timeout": timedelta(hours=2),
        # E-mail and webhook (connections tthc_smtp / tthc_webhook), skipped when not configured.
        "on_failure_callback": tthc_alerts("task_failed"),
    }


DEFAULT_ARGS = _default_args()

# Airflow variable → Settings field. Unset variables fall back to the TTHC_* environment. The
# reporting calendar (TTHC_PERIOD_SCHEME, TTHC_DEADLINE_WORKDAYS, the catalogue's day-off files) has
# no variable on purpose: the DAG files cut the timetable's periods from it when parsed, so tasks
# reading it elsewhere could process other periods than their runs' (see reporting_calendar()).
VARIABLES = {
    "tthc_shared_drive": "shared_drive",
    "tthc_archive_dir": "archive_dir",
    "tthc_reports_dir": "reports_dir",
}
WAREHOUSE_CONN_ID = "tthc_warehouse"
PORTAL_CONN_ID = "tthc_portal"


def task_settings():
    """Settings for a running task: Airflow variables and the tthc_warehouse / tthc_portal connections win."""
    from pathlib import Path

    from airflow.sdk import Variable

    from tthc.settings import Settings

    overrides = {}
    for var, field in VARIABLES.items():
        value = Variable.get(var, default=None)
        if value not in (None, ""):
            overrides[field] = Path(value)
    warehouse = _connection(WAREHOUSE_CONN_ID)
    if warehouse is not None:
        overrides["warehouse_url"] = warehouse_url(warehouse)
    portal = _connection(PORTAL_CONN_ID)
    if portal is not None:
        overrides.update(portal_settings(portal))
    return Settings.from_env(**overrides)


def portal_settings(conn) -> dict:
    """Settings fields from the `tthc_portal` connection: host = base URL; password = the bearer token
    of a token profile, or the password of an OAuth2 password grant (login = its user); extra:
    `profile` (TTHC_PORTAL_PROFILE), `token_url`, `client_id`, `client_secret` (OAuth2 profiles).
    What the connection leaves empty falls back to the TTHC_* environment."""
    extra = conn.extra_dejson or {}
    return {"portal_url": portal_url(conn), "portal_profile": extra.get("profile"),
            "portal_token": conn.password, "portal_username": conn.login, "portal_password": conn.password,
            "portal_token_url": extra.get("token_url"), "portal_client_id": extra.get("client_id"),
            "portal_client_secret": extra.get("client_secret")}


def portal_url(conn) -> str:
    """Base URL of the `tthc_portal` connection: its host as a full URL, or schema (http/https) + host + port."""
    host = conn.host or ""
    if "://" in host:
        return host.rstrip("/")
    return f"{conn.schema or 'https'}://{host}" + (f":{conn.port}" if conn.port else "")


def _connection(conn_id: str):
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return Connection.get(conn_id)
    except AirflowNotFoundException:
        return None


def warehouse_url(conn) -> str:
    """SQLAlchemy URL of a connection: extra {"url": ...} wins, else a postgres connection's parts."""
    from sqlalchemy.engine import URL

    extra = conn.extra_dejson or {}
    if extra.get("url"):
        return extra["url"]
    return URL.create("postgresql+psycopg2", username=conn.login or None, password=conn.password or None,
                      host=conn.host or None, port=conn.port or None,
                      database=conn.schema or None).render_as_string(hide_password=False)


def reporting_calendar():
    """The deployment's reporting calendar, from the environment alone: what the DAG files build
    their timetables from at parse time and what every task, callback and the status board ask
    (task_settings().calendar is the same object's equal)."""
    from tthc.settings import Settings

    return Settings.from_env().calendar


def first_run_start(calendar):
    """Where the scheduler's own runs (catch-up included) start: the start of TTHC_SCHEDULE_FROM's month,
    by default the plan's first, 2025-01 (15/12/2024 under Decree 09). Backfills reach earlier periods."""
    import pendulum

    from tthc.settings import Settings

    return pendulum.instance(calendar.bounds(Settings.from_env().first_scheduled_period)[0])


def period_param(when_empty: str):
    """The optional `period` every TTHC DAG accepts in its conf (a manual re-run of a period)."""
    from airflow.sdk import Param

    return Param(None, type=["null", "string"], pattern=r"^\d{4}-\d{2}$",
                 description=f"Kỳ báo cáo YYYY-MM (để trống: {when_empty})")


def requested_period(context) -> str | None:
    """The period named in the run's conf or params, if any."""
    conf = (context["dag_run"].conf or {}) if context.get("dag_run") else {}
    return conf.get("period") or (context.get("params") or {}).get("period")


def period_of_run(context, calendar=None):
    """The period a run processes (tthc.calendar.ReportingCalendar.period_of_run): `period` in its
    conf or params, else the period holding its logical date, else its data interval's; of the
    frequency of the DAG's timetable (a month, or a roll-up's quarter, half-year or year)."""
    dag_run = context.get("dag_run")
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    run_type = getattr(dag_run, "run_type", None)
    return (calendar or reporting_calendar()).period_of_run(
        getattr(getattr(context.get("dag"), "timetable", None), "frequency", "month"),
        requested=requested_period(context),
        logical_date=context.get("logical_date"),
        data_interval=(start, end) if start is not None and end is not None else None,
        run_after=getattr(dag_run, "run_after", None),
        run_type=getattr(run_type, "value", run_type),  # the SDK's enum prints as DagRunType.SCHEDULED
    )


def run_period(context):
    """The period a task of this run works on. A period not yet ended, a conf label that is no period
    and a timetable cut under another scheme fail the task at once, without retries (retrying cannot
    help), with the reason in Vietnamese and English; nothing is written."""
    from airflow.sdk.exceptions import AirflowFailException

    from tthc.periods import PeriodError

    calendar = reporting_calendar()
    try:
        period = period_of_run(context, calendar)
        calendar.require_closed(period)
    except PeriodError as exc:
        raise AirflowFailException(str(exc)) from None
    return period


def asset_event_key(event) -> str:
    """One asset event, the same whether a run was handed it or read it from the asset's log: the task
    run that emitted it and when (the SDK gives no event id to the run it triggers)."""
    from datetime import timezone

    return (f"{event.source_dag_id}/{event.source_run_id}/{event.source_task_id}/{event.source_map_index}"
            f"@{event.timestamp.astimezone(timezone.utc).isoformat()}")

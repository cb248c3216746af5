"""Monthly TTHC indicators: shared drive and portal → validate → load → aggregate."""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import (AsyncCallback, DeadlineAlert, DeadlineReference, PokeReturnValue, dag,
                        get_current_context, task)
from tthc_timetables import ReportingPeriodTimetable  # plugins/, registered by its plugin

from tthc_airflow import (DEFAULT_ARGS, MARTS_ASSET, PORTAL_POOL, first_run_start, period_param, reporting_calendar,
                          run_period, task_settings)
from tthc_airflow.deadline_callbacks import deadline_alert_callback

# The deployment's calendar (TTHC_PERIOD_SCHEME): the same one the tasks ask for their run's period.
CALENDAR = reporting_calendar()
# A run queued on the 15th waits for submissions until the 20th at the latest; a run still unfinished
# this many days after it was queued gets a Deadline Alert. Set in production (docker-compose): Airflow
# 3.3.2's dag.test() fails on DAGs with a deadline (it looks the alert up by its unserialized form),
# so the demo and the tests, which run DAGs with dag.test(), leave it unset.
RUN_DEADLINE_DAYS = os.environ.get("TTHC_RUN_DEADLINE_DAYS")

DOC = """
### Chỉ tiêu cải cách TTHC hằng tháng — thư mục dùng chung

One run per reporting period; the run's data interval **is** the period (Decree 09/2019: the 15th of
the previous month 00:00 to the 14th 23:59:59, Asia/Ho_Chi_Minh; `TTHC_PERIOD_SCHEME=calendar`
switches to calendar months, for every component at once). A manual run processes the period named
in its conf `{"period": "2025-03"}`, else the period holding its logical date; a period that has not
ended yet is refused and nothing is written.

0. `wait_for_submissions` — until the submission deadline (`TTHC_DEADLINE_WORKDAYS` working days after
   the period's last day, skipping Vietnam's public holidays and days off) checks the share every hour in reschedule mode (no worker is held) and logs
   who is still missing; at the deadline it goes on with what arrived (the rest are `missing`).
   Files arriving later are `late`; `tthc_watch_shared_drive` re-runs their period.
1. `ingest_shared_drive` — records every file on the share, archives and parses new content versions.
2. `validate_submissions` — runs the Great Expectations suite `submission_rows` on the period's files;
   rejected files get Vietnamese reasons naming the cell (`tthc status --period ...`).
3. `load_warehouse` — the newest valid file per unit → core tables (one transaction).
4. `fetch_portal_unit` (one mapped task per unit, pool `tthc_portal`) — the unit's dossiers from the
   provincial portal, personal data dropped at the edge, checked by the `dossier_batch` suite and
   loaded whole or not at all; a quarantined unit fails its own task only. Skipped (one notice)
   when no portal is configured (connection `tthc_portal` or `TTHC_PORTAL_URL`).
5. `compute_portal_indicators` → `reconcile_sources` — dossier-based figures (`source = 'portal'`),
   and self-reports more than 5 points away from them.
6. `aggregate_marts` — the public marts (one transaction), and again those of the later months of
   the year already aggregated (their year to date) and of the roll-ups already computed that
   include the period; updates the `tthc_marts` asset naming all of them, which triggers
   `tthc_monthly_report` to rewrite each of their reports.

Alerts (connections `tthc_smtp`, `tthc_webhook`): any task failure; units still missing at the
submission deadline (scheduled runs only); and, with `TTHC_RUN_DEADLINE_DAYS` set, a Deadline
Alert when a run has not finished that many days after it was queued.

Re-running a period is always safe: each step replaces that period's rows.
"""


@dag(
    dag_id="tthc_monthly_shared_drive",
    # The run's data interval is the period: Decree 09 15th → 14th (2025-03 = 15/02–14/03), or calendar months.
    schedule=ReportingPeriodTimetable.for_calendar(CALENDAR, "month"),
    start_date=first_run_start(CALENDAR),
    catchup=True,
    max_active_runs=3,
    default_args=DEFAULT_ARGS,
    deadline=DeadlineAlert(reference=DeadlineReference.DAGRUN_QUEUED_AT,
                           interval=timedelta(days=float(RUN_DEADLINE_DAYS)),
                           callback=AsyncCallback(deadline_alert_callback),
                           ) if RUN_DEADLINE_DAYS else None,
    tags=["tthc", "shared-drive", "portal", "monthly"],
    doc_md=DOC,
    params={"period": period_param("kỳ chứa ngày logic của lượt chạy")},
)
def tthc_monthly_shared_drive():
    @task.sensor(mode="reschedule", poke_interval=timedelta(hours=1), timeout=timedelta(days=21))
    def wait_for_submissions() -> PokeReturnValue:
        from tthc.orchestration import deadline_passed, submission_progress

        context = get_current_context()
        settings, period = task_settings(), run_period(context)
        if context["dag_run"].run_type != "scheduled" and deadline_passed(settings, period):
            # A backfill or re-run of a closed period: nothing to wait for; the next steps read the share.
            return PokeReturnValue(is_done=True, xcom_value={"period": period.label, "deadline_passed": True,
                                                             "missing": []})
        progress = submission_progress(settings, period)
        return PokeReturnValue(is_done=not progress["missing"] or progress["deadline_passed"], xcom_value=progress)

    @task
    def alert_missing_submissions(progress: dict) -> list:
        """At the deadline, name the units still missing (catch-up and backfill runs stay quiet)."""
        from tthc_airflow.notifiers import notify_deadline_missed

        context = get_current_context()
        if not (progress["deadline_passed"] and progress["missing"]) or context["dag_run"].run_type != "scheduled":
            return []
        notify_deadline_missed(progress["period"], progress["missing"], progress["deadline"],
                               dag_id=context["dag"].dag_id, run_id=context["run_id"])
        return progress["missing"]

    @task
    def ingest_shared_drive(_progress: dict) -> dict:
        from tthc.orchestration import ingest_shared_drive as ingest

        return ingest(task_settings())

    @task
    def validate_submissions(_ingested: dict) -> dict:
        from tthc.orchestration import validate_period

        return validate_period(task_settings(), run_period(get_current_context()))

    @task
    def load_warehouse(_validated: dict) -> dict:
        from tthc.orchestration import load_period

        return load_period(task_settings(), run_period(get_current_context()))

    @task
    def portal_units() -> list[str]:
        from tthc.orchestration import portal_units as units

        return units(task_settings(), run_period(get_current_context()))

    @task(pool=PORTAL_POOL, map_index_template="{{ unit_code }}")
    def fetch_portal_unit(unit_code: str) -> dict:
        from tthc.orchestration import ingest_portal_unit

        return ingest_portal_unit(task_settings(), run_period(get_current_context()), unit_code)

    @task(trigger_rule="all_done")
    def compute_portal_indicators(_fetched, _loaded: dict) -> dict:
        """Runs whatever some units' fetches did: one quarantined unit must not hold back the rest."""
        from tthc.orchestration import compute_portal_indicators as compute

        return compute(task_settings(), run_period(get_current_context()))

    @task
    def reconcile_sources(_computed: dict) -> dict:
        from tthc.orchestration import reconcile

        return reconcile(task_settings(), run_period(get_current_context()))

    @task(outlets=[MARTS_ASSET])
    def aggregate_marts(_reconciled: dict) -> dict:
        from tthc.orchestration import aggregate_period

        context = get_current_context()
        period = run_period(context)
        summary = aggregate_period(task_settings(), period)
        # The report DAG rewrites every report this update changed, named in the asset event.
        context["outlet_events"][MARTS_ASSET].extra = {
            key: summary[key] for key in ("period", "refreshed_later_periods", "refreshed_rollups")}
        return summary

    progress = wait_for_submissions()
    alert_missing_submissions(progress)
    loaded = load_warehouse(validate_submissions(ingest_shared_drive(progress)))
    fetched = fetch_portal_unit.expand(unit_code=portal_units())
    aggregate_marts(reconcile_sources(compute_portal_indicators(fetched, loaded)))


tthc_monthly_shared_drive()

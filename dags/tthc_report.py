"""The reports (Word + Excel) a marts update changed, triggered by the aggregation through the `tthc_marts` asset."""

from __future__ import annotations

from airflow.sdk import dag, get_current_context, task

from tthc_airflow import DEFAULT_ARGS, MARTS_ASSET, period_param, requested_period, task_settings
from tthc_airflow.notifiers import tthc_alerts

DOC = """
### Báo cáo tháng và báo cáo tổng hợp — Word và Excel

Runs when `tthc_monthly_shared_drive` updates the `tthc_marts` asset. Each asset event names the
period aggregated and what its update refreshed: the later months of the year whose year to date
moved and the roll-ups (quarter, half-year, year) that include it. The run rewrites every one of
those reports, once (`write_report`, one mapped task per report): a correction to 2025-03 rewrites
2025-03, 2025-04…, 2025-Q1, 2025-H1 and 2025 if they were reported.

Every update is reported, none waits for a later one. Airflow 3.3 keeps one queue entry per DAG and
asset: while this DAG's run is active (`max_active_runs=1`) the entry stays queued and the next run
starts when it ends, but that run consumes only the events up to the entry's creation. Events that
arrived after it (during the previous run) are read here from the asset's event log
(`inlet_events`, every event since the run's first triggering event), so they are reported by this
run rather than by whichever update comes next. One run at a time: a run started later reads the
marts later, so the last file written always holds the newest figures.

By hand, conf `{"period": "2025-03"}` writes that period's reports again. Files:
`BaoCao_TTHC_<period>.docx` and `.xlsx` under `TTHC_REPORTS_DIR/<period>/` (from 2025-07 also each
commune's own report, `BaoCao_TTHC_<period>_<unit>.docx`).
"""


@dag(
    dag_id="tthc_monthly_report",
    schedule=[MARTS_ASSET],
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["tthc", "report", "monthly"],
    doc_md=DOC,
    params={"period": period_param("các kỳ trong sự kiện tthc_marts")},
)
def tthc_monthly_report():
    @task(inlets=[MARTS_ASSET])
    def reports_to_write() -> list[str]:
        from tthc.orchestration import reports_changed_by

        context = get_current_context()
        if label := requested_period(context):
            return [label]
        events = list(context["triggering_asset_events"].get(MARTS_ASSET, []))
        if not events:
            raise ValueError("no period given: trigger with conf {'period': 'YYYY-MM'}")
        # The events the scheduler did not hand to this run because they arrived after its queue entry.
        since = min(e.timestamp for e in events)
        events += list(context["inlet_events"][MARTS_ASSET].after(since))
        return reports_changed_by(e.extra for e in events)

    # `period` is a month ('2025-03') or a roll-up ('2025-Q1'); the alerts read it under that name.
    @task(on_success_callback=tthc_alerts("report_ready"), map_index_template="{{ period }}")
    def write_report(period: str) -> dict:
        from tthc.orchestration import write_report as write

        return write(task_settings(), period)

    write_report.expand(period=reports_to_write())


tthc_monthly_report()

"""The reports (Word + Excel) a marts update changed, triggered by the aggregation through the `tthc_marts` asset."""

from __future__ import annotations

from airflow.sdk import Variable, dag, get_current_context, task

from tthc_airflow import (DEFAULT_ARGS, MARTS_ASSET, REPORTED_EVENTS_VARIABLE, asset_event_key, period_param,
                          requested_period, task_settings)
from tthc_airflow.notifiers import tthc_alerts

DOC = """
### Báo cáo tháng và báo cáo tổng hợp — Word và Excel

Chạy khi `tthc_monthly_shared_drive` cập nhật asset `tthc_marts`. Mỗi sự kiện của asset ghi kỳ vừa
tổng hợp và những gì lần cập nhật đó đã tính lại: các tháng sau trong năm có lũy kế thay đổi và các
kỳ quý, 6 tháng, năm có chứa kỳ đó. Ghi chú của lần chạy ghi các kỳ đó.

1. `reports_to_write` — các báo cáo cần viết: kỳ trong conf `{"period": "2025-03"}` nếu có; nếu
   không, mọi kỳ mà các sự kiện đã nêu, kể cả sự kiện đến trong lúc lần chạy trước còn đang chạy
   (đọc từ nhật ký sự kiện của asset), nên không cập nhật nào phải chờ lần sau. Ví dụ bản sửa của
   2025-03 viết lại 2025-03, 2025-04…, 2025-Q1, 2025-H1 và 2025 nếu đã có báo cáo. Sự kiện mà lần
   chạy trước đã viết xong báo cáo (Variable `tthc_reported_marts_events`) không được viết lại; lần
   chạy được Clear (chạy lại) thì viết lại mọi báo cáo của nó.
2. `write_report` — mỗi báo cáo một task: `BaoCao_TTHC_<kỳ>.docx` và `.xlsx` trong
   `TTHC_REPORTS_DIR/<kỳ>/` (từ 2025-07 thêm báo cáo riêng của từng xã mới,
   `BaoCao_TTHC_<kỳ>_<đơn vị>.docx`); báo "báo cáo đã sẵn sàng" (e-mail, webhook) khi xong.
3. `remember_reported_events` — khi mọi báo cáo đã viết xong, ghi các sự kiện lần chạy đã xử lý vào
   Variable `tthc_reported_marts_events`. Xóa Variable này chỉ làm lần chạy sau viết lại nhiều hơn.

Mỗi lúc một lần chạy (`max_active_runs=1`): lần chạy sau đọc số liệu sau, nên tệp viết cuối luôn có
số liệu mới nhất. Viết lại báo cáo của một kỳ: Trigger với conf `{"period": "2025-03"}` (không cần
chạy lại cả kỳ). DAG này nên luôn bật: nó chỉ chạy khi có số liệu mới.
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
        """The reports; and the asset events they answer, as the XCom "events" (none for a conf run)."""
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
        # ...which the next run is also handed when a later update queues it: the last complete run's
        # reports were drawn after each of its events, so those need no second report. A cleared (or
        # retried) run is asked to write again: all of its reports.
        reported = (set(Variable.get(REPORTED_EVENTS_VARIABLE, default=[], deserialize_json=True))
                    if context["ti"].try_number == 1 else set())
        keyed = {asset_event_key(e): e for e in events}  # an event both handed and read counts once
        context["ti"].xcom_push("events", sorted(keyed))
        return reports_changed_by(e.extra for key, e in keyed.items() if key not in reported)

    # `period` is a month ('2025-03') or a roll-up ('2025-Q1'); the alerts read it under that name.
    # One XCom, the summary: `-> dict` alone would also push each of its keys (a request apiece).
    @task(on_success_callback=tthc_alerts("report_ready"), map_index_template="{{ period }}",
          multiple_outputs=False)
    def write_report(period: str) -> dict:
        from tthc.orchestration import write_report as write

        return write(task_settings(), period)

    # Only once every report was written (none_failed: also when none was needed); a failed report
    # leaves the record as it was, so the next run writes again what this one named.
    @task(trigger_rule="none_failed")
    def remember_reported_events() -> None:
        events = get_current_context()["ti"].xcom_pull(task_ids="reports_to_write", key="events")
        if events is not None:
            Variable.set(REPORTED_EVENTS_VARIABLE, events, serialize_json=True)

    write_report.expand(period=reports_to_write()) >> remember_reported_events()


tthc_monthly_report()

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
# so the tests that run DAGs with dag.test() leave it unset (the demo too: its triggerer is not started).
RUN_DEADLINE_DAYS = os.environ.get("TTHC_RUN_DEADLINE_DAYS")

DOC = """
### Chỉ tiêu cải cách TTHC hằng tháng — thư mục dùng chung và cổng dịch vụ công

Mỗi kỳ báo cáo chạy **một lần**, ngay sau khi kỳ kết thúc. Khoảng dữ liệu (data interval) của lần
chạy chính là kỳ báo cáo: theo Nghị định 09/2019/NĐ-CP từ 00:00 ngày 15 tháng trước đến hết ngày 14
(giờ Việt Nam); `TTHC_PERIOD_SCHEME=calendar` chuyển sang tháng dương lịch cho mọi thành phần. Ghi
chú (note) của mỗi lần chạy ghi kỳ bằng chữ, ví dụ *Kỳ báo cáo tháng 03/2025 (15/02/2025 –
14/03/2025)*. Lần chạy thủ công xử lý kỳ ghi trong conf `{"period": "2025-03"}`, nếu không thì kỳ
chứa ngày logic (logical date) của nó; kỳ chưa kết thúc bị từ chối, không ghi gì.

**Các bước**

1. `wait_for_submissions` — chờ đến hạn nộp (`TTHC_DEADLINE_WORKDAYS` ngày làm việc sau ngày cuối
   kỳ, không tính ngày nghỉ lễ, Tết): mỗi giờ xem lại thư mục dùng chung (chế độ reschedule, không
   giữ chỗ của worker) và ghi vào log các đơn vị còn thiếu. Đến hạn thì chạy tiếp với những gì đã
   nhận; đơn vị chưa nộp là `missing`, tệp đến sau hạn là `late`. Lần chạy bù (backfill) và chạy
   lại một kỳ đã qua hạn không phải chờ.
2. `alert_missing_submissions` — đến hạn, báo (e-mail, webhook) các đơn vị chưa nộp; chỉ lần chạy
   theo lịch mới báo.
3. `ingest_shared_drive` — ghi nhận mọi tệp trong thư mục dùng chung, lưu bản sao và đọc các phiên
   bản mới. Thư mục chỉ được đọc, không bao giờ bị sửa hay xóa.
4. `validate_submissions` — bộ kiểm tra Great Expectations `submission_rows` (mọi tệp của kỳ trong
   một lượt); tệp bị từ chối có lý
   do bằng tiếng Việt chỉ rõ ô sai (`tthc status --period 2025-03`).
5. `load_warehouse` — tệp hợp lệ mới nhất của mỗi đơn vị vào kho dữ liệu (một giao dịch).
6. `portal_units` → `fetch_portal_unit` (mỗi đơn vị một task, pool `tthc_portal`) — hồ sơ của đơn
   vị lấy từ cổng dịch vụ công của tỉnh và lưu bản sao (chờ nạp); dữ liệu cá nhân bị bỏ ngay khi
   nhận. Chưa cấu hình cổng (connection `tthc_portal` hoặc `TTHC_PORTAL_URL`) thì bỏ qua.
7. `load_portal_batches` — các lô hồ sơ đã lấy của kỳ được kiểm tra cùng một lượt bằng bộ
   `dossier_batch`, mỗi đơn vị nạp trọn vẹn hoặc không nạp. Đơn vị có hồ sơ sai bị cách ly riêng
   (lý do nêu rõ hồ sơ sai), các đơn vị khác vẫn được nạp; khi đó task báo lỗi (không thử lại).
   Đơn vị lấy hồ sơ không thành công giữ lô đã nạp lần trước.
8. `compute_portal_indicators` → `reconcile_sources` — chỉ tiêu tính từ hồ sơ, và các số tự báo
   cáo lệch quá 5 điểm so với cổng.
9. `aggregate_marts` — số liệu tổng hợp (mart) của kỳ, một giao dịch, và tính lại các tháng sau
   trong năm đã tổng hợp (lũy kế) cùng các kỳ quý, 6 tháng, năm đã tính có chứa kỳ này; báo cho
   `tthc_monthly_report` (asset `tthc_marts`) viết lại báo cáo của tất cả các kỳ đó.

**Vận hành**

- *Chạy lại một kỳ*: Clear lần chạy của kỳ (hoặc một task) là an toàn — mỗi bước thay dữ liệu của
  kỳ trong một giao dịch; chạy lại một tháng cập nhật lũy kế của các tháng sau.
- *Chạy lại nhiều kỳ đã qua*: `tthc backfill --from 2025-01 --to 2025-03` (qua API backfill của
  Airflow, scheduler chạy đúng các kỳ đó, kể cả kỳ đã chạy rồi).
- *Bật DAG (unpause)*: scheduler chạy tiếp từ kỳ sau lần chạy theo lịch hoặc backfill cuối cùng và
  **chạy bù mọi kỳ đã kết thúc** đến hôm nay (tối đa 3 kỳ cùng lúc). Ô "Unpause on trigger" của
  form Trigger mặc định được chọn: bỏ chọn nếu chỉ muốn một lần chạy.
- *Cảnh báo* (connection `tthc_smtp`, `tthc_webhook`): task lỗi; đơn vị chưa nộp khi đến hạn; và khi
  đặt `TTHC_RUN_DEADLINE_DAYS`, lần chạy chưa xong sau chừng ấy ngày (Deadline Alert).
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
    # Each task pushes one XCom, its summary (`multiple_outputs=False`): a `-> dict` return alone would
    # also push each key, one execution-API request apiece (≈ 8 per fetch task).
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

    @task(multiple_outputs=False)
    def ingest_shared_drive(_progress: dict) -> dict:
        from tthc.orchestration import ingest_shared_drive as ingest

        return ingest(task_settings())

    @task(multiple_outputs=False)
    def validate_submissions(_ingested: dict) -> dict:
        from tthc.orchestration import validate_period

        return validate_period(task_settings(), run_period(get_current_context()))

    @task(multiple_outputs=False)
    def load_warehouse(_validated: dict) -> dict:
        from tthc.orchestration import load_period

        return load_period(task_settings(), run_period(get_current_context()))

    @task
    def portal_units() -> list[str]:
        from tthc.orchestration import portal_units as units

        return units(task_settings(), run_period(get_current_context()))

    @task(pool=PORTAL_POOL, map_index_template="{{ unit_code }}", multiple_outputs=False)
    def fetch_portal_unit(unit_code: str) -> dict:
        """Fetch and archive only: the suite's fixed cost is paid once, by load_portal_batches."""
        from tthc.orchestration import fetch_portal_unit as fetch

        return fetch(task_settings(), run_period(get_current_context()), unit_code)

    @task(trigger_rule="all_done", multiple_outputs=False)
    def load_portal_batches(units: list[str], _fetched) -> dict:
        """Every fetched unit's batch through the suite at once, each loaded whole or quarantined alone;
        runs whatever some fetches did. A quarantined unit fails the task once the others are loaded
        (alerted; no retry: the same dossiers would fail again, the next fetch is the next run's)."""
        from airflow.sdk.exceptions import AirflowFailException

        from tthc.orchestration import load_portal

        summary = load_portal(task_settings(), run_period(get_current_context()), units)
        if summary["quarantined"]:
            raise AirflowFailException("; ".join(f"đơn vị {unit} bị cách ly: " + "; ".join(reasons)
                                                 for unit, reasons in summary["quarantined"].items()))
        return summary

    @task(trigger_rule="all_done", multiple_outputs=False)
    def compute_portal_indicators(_portal_loaded, _loaded: dict) -> dict:
        """Runs whatever the portal's load did: one quarantined unit must not hold back the rest."""
        from tthc.orchestration import compute_portal_indicators as compute

        return compute(task_settings(), run_period(get_current_context()))

    @task(multiple_outputs=False)
    def reconcile_sources(_computed: dict) -> dict:
        from tthc.orchestration import reconcile

        return reconcile(task_settings(), run_period(get_current_context()))

    @task(outlets=[MARTS_ASSET], multiple_outputs=False)
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
    units = portal_units()
    portal_loaded = load_portal_batches(units, fetch_portal_unit.expand(unit_code=units))
    aggregate_marts(reconcile_sources(compute_portal_indicators(portal_loaded, loaded)))


tthc_monthly_shared_drive()

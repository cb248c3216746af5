"""Late and corrected submissions: re-run the periods they belong to, and only those."""

from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import dag, task

from tthc_airflow import DEFAULT_ARGS, task_settings

DOC = """
### Theo dõi thư mục dùng chung — báo cáo muộn, báo cáo sửa đổi

Mỗi 30 phút (không chạy bù).

1. `periods_with_new_files` — ghi nhận các tệp mới hoặc đã đổi trong thư mục dùng chung (như bước
   ingest của DAG tháng) và tìm các kỳ đã tổng hợp, đã có báo cáo mà nay có phiên bản tệp mới (báo
   cáo nộp muộn, hoặc đơn vị gửi bản sửa).
2. `rerun_period` — mỗi kỳ như vậy một lần chạy `tthc_monthly_shared_drive` với conf
   `{"period": "YYYY-MM"}`: chỉ kỳ đó được kiểm tra, nạp, tổng hợp và viết lại báo cáo.
"""


@dag(
    dag_id="tthc_watch_shared_drive",
    schedule="*/30 * * * *",
    start_date=pendulum.datetime(2025, 1, 1, tz="Asia/Ho_Chi_Minh"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["tthc", "shared-drive", "late-files"],
    doc_md=DOC,
)
def tthc_watch_shared_drive():
    @task
    def periods_with_new_files() -> list[dict]:
        from tthc.orchestration import periods_to_rerun

        return [{"period": p} for p in periods_to_rerun(task_settings())]

    TriggerDagRunOperator.partial(
        task_id="rerun_period", trigger_dag_id="tthc_monthly_shared_drive",
    ).expand(conf=periods_with_new_files())


tthc_watch_shared_drive()

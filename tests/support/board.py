"""The small warehouse the status board tests read (tests/airflow/test_status_board.py drives the app,
tests/e2e/test_status_board_browser.py a browser), built by the pipeline's own steps."""

from __future__ import annotations

from pathlib import Path

from tests.support.drive import set_mtime, write_csv
from tthc import orchestration
from tthc.periods import Period

MAR, APR = Period(2025, 3), Period(2025, 4)
ON_TIME, LATE = "2025-03-12 09:00", "2025-03-20 08:00"  # 2025-03 is on time until Wed 19/03 23:59:59
SCRIPT = "<script>alert(1)</script>"


def build_board_warehouse(share: Path, settings) -> None:
    """March: on time, late, corrected, two rejected (one reason carrying a <script>), the rest
    missing, and the report files; April: one unit. Through tthc.pipeline, as the DAGs do."""
    write_csv(share, "2025-03/X-19363.csv", "X-19363", "2025-03",
              [("NQ01-3", 30, 40), ("NQ01-1", 50, 60), ("NQ02-6", 0, 0), ("NQ01-5", 9, 10)], mtime=ON_TIME)
    write_csv(share, "xa/ben quan.csv", "X-19366", "2025-03", [("NQ01-3", 10, 60)], mtime=LATE)
    write_csv(share, "2025-03/VL-NV.csv", "VL-NV", "2025-03", [("NQ01-3", 1, 2)], mtime="2025-03-10 08:00")
    write_csv(share, "2025-03/VL-NV-sua.csv", "VL-NV", "2025-03", [("NQ01-3", 2, 2)], mtime="2025-03-11 08:00")
    write_csv(share, "2025-03/VL-TP.csv", "VL-TP", "2025-03", [("NQ01-3", 130, 120)], mtime=ON_TIME)
    # A reason quoting a cell: the period cell is markup. It must reach the page as text.
    evil = write_csv(share, "2025-03/VL-YT.csv", "VL-YT", "2025-03", [("NQ01-3", 5, 5)], mtime=ON_TIME)
    evil.write_text(evil.read_text(encoding="utf-8-sig").replace("03/2025", SCRIPT), encoding="utf-8")
    set_mtime(evil, ON_TIME)
    write_csv(share, "2025-04/X-19363.csv", "X-19363", "2025-04", [("NQ01-3", 20, 20)], mtime="2025-04-14 10:00")
    orchestration.ingest_shared_drive(settings)
    for period in (MAR, APR):
        orchestration.validate_period(settings, period)
        orchestration.load_period(settings, period)
        orchestration.aggregate_period(settings, period)
    orchestration.report_period(settings, MAR)

"""One period end to end through Airflow (dag.test()): shared drive → GX → warehouse → report."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from conftest import ROOT
from drive import write_csv
from tthc.periods import Period
from tthc.warehouse import transaction

pytestmark = pytest.mark.airflow
MAR = Period(2025, 3)


@pytest.fixture(scope="module")
def dags(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    dags = bag.get_dag("tthc_monthly_shared_drive"), bag.get_dag("tthc_monthly_report")
    # dag.test() waits out retry delays in real time; a failure here should fail the test at once.
    for dag in dags:
        for t in dag.tasks:
            t.retries = 0
    return dags


def _drive(settings):
    share = settings.shared_drive
    write_csv(share, "2025-03/X-19363.csv", "X-19363", "2025-03", [("NQ01-3", 30, 40), ("NQ02-7", 45, 50)],
              mtime="2025-03-12 09:00")
    write_csv(share, "2025-03/VL-TP.csv", "VL-TP", "2025-03", [("NQ01-3", 130, 120)], mtime="2025-03-12 09:00")
    write_csv(share, "2025-03/VL-NV.csv", "VL-NV", "2025-03", [("NQ01-3", 20, 20)], mtime="2025-03-21 09:00")


def _run_period(dags, settings):
    monthly, report = dags
    # A manual run covers the latest whole interval before its date: the period ends at its end.
    run = monthly.test(logical_date=MAR.bounds(settings.period_scheme)[1])
    assert str(run.state) == "success"
    assert Period.for_interval(run.data_interval_start, run.data_interval_end) == MAR
    report_run = report.test(run_conf={"period": MAR.label})
    assert str(report_run.state) == "success"


def _check(settings):
    with transaction(settings.warehouse_url) as conn:
        area = conn.execute(text("SELECT numerator, denominator, units_reported FROM mart_area_kpi_monthly "
                                 "WHERE period = '2025-03' AND indicator_code = 'NQ01-3'")).one()
        status = dict(conn.execute(text("SELECT unit_code, status FROM mart_submission_status "
                                        "WHERE period = '2025-03'")).all())
    assert tuple(area) == (50, 60, 2)
    assert (status["X-19363"], status["VL-NV"], status["VL-TP"], status["VL-YT"]) == (
        "on_time", "late", "rejected", "missing")
    folder = settings.reports_dir / "2025-03"
    assert (folder / "BaoCao_TTHC_2025-03.docx").stat().st_size > 10_000
    assert (folder / "BaoCao_TTHC_2025-03.xlsx").stat().st_size > 5_000


def test_one_period_end_to_end_on_the_embedded_warehouse(dags, tthc_env):
    _drive(tthc_env)
    _run_period(dags, tthc_env)
    _check(tthc_env)
    assert tthc_env.warehouse_url.startswith("sqlite:///")


@pytest.mark.postgres
def test_one_period_end_to_end_on_postgresql(dags, tthc_env, pg_url, monkeypatch):
    monkeypatch.setenv("TTHC_WAREHOUSE_URL", pg_url)
    settings = tthc_env.with_(warehouse_url=pg_url)
    _drive(settings)
    _run_period(dags, settings)
    _check(settings)

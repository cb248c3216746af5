"""One period end to end through Airflow (dag.test()): shared drive → GX → warehouse → report."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.support import ROOT
from tests.support.drive import write_csv
from tests.support.rollups import check_rewritten, reported_quarter
from tthc.periods import Period
from tthc.warehouse import get_engine, transaction

pytestmark = pytest.mark.airflow
MAR = Period(2025, 3)


@pytest.fixture
def dags(airflow_db):
    """Parsed for each test: dag.test() runs tasks in this process, and a run's conf sticks to the
    DAG object's params (Airflow's process_params updates them in place), so one test's `period`
    would leak into the next; a scheduler's tasks parse the DAG anew each time."""
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
    # As the scheduler makes it: the logical date is the period's start; the data interval is the period.
    run = monthly.test(logical_date=settings.calendar.bounds(MAR)[0])
    assert str(run.state) == "success"
    assert settings.calendar.exact(run.data_interval_start, run.data_interval_end) == MAR
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


def _processed(settings) -> list[str]:
    if not (settings.data_dir / "warehouse.sqlite").exists():
        return []
    with transaction(settings.warehouse_url) as conn:
        return [r[0] for r in conn.execute(text("SELECT DISTINCT period FROM ref_period ORDER BY period"))]


def test_manual_runs_process_the_period_the_user_meant(dags, tthc_env):
    """A logical date inside 2025-03 (as typed in the UI or given to `airflow dags trigger`) processes
    2025-03; conf {"period": ...} processes that period, whatever the logical date."""
    from datetime import datetime

    monthly, _ = dags
    _drive(tthc_env)
    run = monthly.test(logical_date=datetime(2025, 3, 10, 9, 0, tzinfo=tthc_env.calendar.zone))
    assert str(run.state) == "success"
    assert _processed(tthc_env) == ["2025-03"]
    run = monthly.test(logical_date=datetime(2025, 3, 10, 9, 0, tzinfo=tthc_env.calendar.zone),
                       run_conf={"period": "2025-01"})
    assert str(run.state) == "success"
    assert _processed(tthc_env) == ["2025-01", "2025-03"]


def test_a_run_of_a_period_not_ended_is_refused_and_writes_nothing(dags, tthc_env):
    """`airflow dags trigger` today, or a UI trigger with its default logical date (now): the period
    holding it has not ended, so the run fails at its first step and nothing is written."""
    from datetime import datetime

    monthly, report = dags
    _drive(tthc_env)
    now = datetime.now(tthc_env.calendar.zone)
    run = monthly.test(logical_date=now)
    assert str(run.state) == "failed"
    current = tthc_env.calendar.containing(now)
    report_run = report.test(run_conf={"period": current.label})
    assert str(report_run.state) == "failed"
    assert _processed(tthc_env) == []
    assert not (tthc_env.reports_dir / current.label).exists()


@pytest.mark.parametrize("profile", ["national-sync", "vnpt-igate"])
def test_one_period_with_both_sources(dags, tthc_env, monkeypatch, caplog, profile):
    """Shared drive and the fake portal over HTTP, through the same DAG: portal figures count, the
    self-report that disagrees by more than 5 points is listed, and no personal data or credential
    is stored. Once per portal profile (vnpt-igate: OAuth2 from TTHC_PORTAL_TOKEN_URL/_CLIENT_*)."""
    from tthc_testing.fake_portal import FakePortal, make_dossier

    write_csv(tthc_env.shared_drive, "2025-03/X-19363.csv", "X-19363", "2025-03",
              [("NQ01-3", 9, 10), ("NQ02-6", 0, 0)], mtime="2025-03-12 09:00")
    canary = {"ChuHoSo": "Nguyễn Văn Canary", "SoGiayToChuHoSo": "079912345678", "SoDienThoai": "0912000111"}
    with FakePortal(dossiers_per_unit_month=(0, 0), token="tok-3f9a", client_secret="tok-3f9a",
                    profile=profile) as portal:
        portal.add_dossiers("X-19363", [
            make_dossier("X-19363", f"HS-{i}", "20250310090000", KenhThucHien=2 if i < 5 else 1, **canary)
            for i in range(10)])
        for field, value in portal.settings().items():
            if value is not None:
                monkeypatch.setenv(f"TTHC_{field.upper()}", value)
        monkeypatch.setenv("TTHC_PII_SALT", "dag-run-test-salt-0123456789abcdef")
        _run_period(dags, tthc_env)
    with transaction(tthc_env.warehouse_url) as conn:
        area = conn.execute(text("SELECT numerator, denominator, sources FROM mart_area_kpi_monthly "
                                 "WHERE period = '2025-03' AND indicator_code = 'NQ01-3'")).one()
        gap = conn.execute(text("SELECT self_value_pct, portal_value_pct FROM mart_reconciliation "
                                "WHERE period = '2025-03' AND unit_code = 'X-19363' AND indicator_code = 'NQ01-3'")).one()
        tables = [r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))]
        dump = "\n".join(str(row) for t in tables for row in conn.execute(text(f'SELECT * FROM "{t}"')))
    assert tuple(area) == (5, 10, "portal")  # the portal's 5/10 counts over the self-reported 9/10
    assert tuple(gap) == (90.0, 50.0)
    for value in (*canary.values(), "tok-3f9a"):
        assert value not in dump
        assert value not in caplog.text


@pytest.mark.airflow
def test_a_correction_through_airflow_rewrites_the_later_month_and_the_quarter(airflow_db, tmp_path, monkeypatch):
    """The monthly DAG re-aggregates 2025-03; the scheduler's own code makes the asset-triggered report
    run (dag.test() only makes manual runs, so it runs that one), which rewrites 2025-03, 2025-04 and
    2025-Q1, and also reports an update that arrived after the run's queue entry (not handed to it).
    The next run, which Airflow hands that update too, does not write its reports again; cleared, it
    writes all of them."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.jobs.job import Job
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
    from airflow.models import DagModel, DagRun
    from airflow.models import dagrun as dagrun_module
    from airflow.models.taskinstance import clear_task_instances
    from airflow.models.asset import AssetDagRunQueue, AssetEvent, AssetModel
    from airflow.assets.manager import AssetManager
    from airflow.utils.session import create_session
    from sqlalchemy import select

    settings, reports = reported_quarter(tmp_path)
    monkeypatch.setenv("TTHC_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("TTHC_SHARED_DRIVE", str(settings.shared_drive))
    def load(dag_id: str):
        """A freshly parsed DAG, as a worker has (dag.test() runs tasks in-process, and a run's conf
        stays in the DAG object's params)."""
        dag = DagBag(dag_folder=str(ROOT / "dags")).get_dag(dag_id)
        for t in dag.tasks:
            t.retries = 0
        return dag

    # By hand first (also puts the DAGs in the metadata DB); then unpaused, as deployed: a paused
    # DAG gets no asset queue entry.
    assert str(load("tthc_monthly_report").test(run_conf={"period": "2025-03"}).state) == "success"
    with create_session() as session:
        session.get(DagModel, "tthc_monthly_report").is_paused = False

    assert str(load("tthc_monthly_shared_drive").test(run_conf={"period": "2025-03"}).state) == "success"
    with create_session() as session:
        marts = session.scalar(select(AssetModel).where(AssetModel.name == "tthc_marts"))
        event = session.scalars(select(AssetEvent).where(AssetEvent.asset_id == marts.id)
                                .order_by(AssetEvent.id.desc())).first()
        assert event.extra == {"period": "2025-03", "refreshed_later_periods": ["2025-04"],
                               "refreshed_rollups": ["2025-Q1"]}
        # Another update (February's) lands after the queue entry was made, before the run is.
        late = AssetManager.register_asset_change(
            asset=marts, session=session,
            extra={"period": "2025-02", "refreshed_later_periods": ["2025-03", "2025-04"],
                   "refreshed_rollups": ["2025-Q1"]})
        assert session.scalar(select(AssetDagRunQueue).where(
            AssetDagRunQueue.target_dag_id == "tthc_monthly_report")).created_at < late.timestamp
    def asset_triggered_run() -> set[int]:
        """The scheduler's next asset-triggered run of the report DAG, run by dag.test(); its events' ids."""
        with create_session() as session:
            SchedulerJobRunner(job=Job())._create_dag_runs_asset_triggered(
                dag_models=[session.get(DagModel, "tthc_monthly_report")], session=session)
            run = session.scalars(select(DagRun).where(DagRun.dag_id == "tthc_monthly_report",
                                                       DagRun.run_type == "asset_triggered")
                                  .order_by(DagRun.id.desc())).first()
            run_id, consumed = run.id, {e.id for e in run.consumed_asset_events}
        run_again(run_id)
        return consumed

    def run_again(run_id: int) -> None:
        """dag.test() of that run (it only makes manual runs of its own)."""
        def the_asset_triggered_run(*, dag, session, **_kw):
            dr = session.get(DagRun, run_id)
            dr.state, dr.dag = "running", dag
            session.commit()
            return dr

        monkeypatch.setattr(dagrun_module, "get_or_create_dagrun", the_asset_triggered_run)
        assert str(load("tthc_monthly_report").test().state) == "success"

    consumed = asset_triggered_run()
    assert event.id in consumed and late.id not in consumed  # Airflow leaves February's to a later update
    check_rewritten(reports)
    february = settings.reports_dir / "2025-02" / "BaoCao_TTHC_2025-02.xlsx"
    assert february.exists()  # the late update's
    written = {p: p.stat().st_mtime_ns for p in settings.reports_dir.rglob("*.xlsx")}

    # January is corrected next: its run is handed February's update as well, already reported.
    with create_session() as session:
        january = AssetManager.register_asset_change(
            asset=session.scalar(select(AssetModel).where(AssetModel.name == "tthc_marts")), session=session,
            extra={"period": "2025-01", "refreshed_later_periods": [], "refreshed_rollups": []})
    assert {late.id, january.id} <= asset_triggered_run()
    def rewritten() -> set[str]:
        return {p.parent.name for p, mtime in written.items() if p.stat().st_mtime_ns != mtime}

    # (2025-01's report may exist already: the first run also reported the updates of earlier tests.)
    assert (settings.reports_dir / "2025-01" / "BaoCao_TTHC_2025-01.xlsx").exists()
    assert rewritten() <= {"2025-01"}, rewritten()

    # Cleared, as from the UI, that run writes every report its updates named.
    with create_session() as session:
        run = session.scalars(select(DagRun).where(DagRun.dag_id == "tthc_monthly_report")
                              .order_by(DagRun.id.desc())).first()
        clear_task_instances(list(run.task_instances), session)
        run_id = run.id
    run_again(run_id)
    assert rewritten() - {"2025-01"} == {"2025-02", "2025-03", "2025-04", "2025-Q1"}, rewritten()
    get_engine(settings.warehouse_url).dispose()

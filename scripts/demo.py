"""`make demo`: a sample shared drive for 2025-01..12 and a fake provincial portal on 127.0.0.1,
each period run through Airflow (dag.test()), both sources; then the quarterly, half-year and annual
roll-up reports. The year spans the reorganisation: 30 units report through 2025-06, the five new
communes from 2025-07 (their year to date and the annual report include the old communes' figures).

Uses its own installation under $TTHC_DATA_DIR/demo (recreated on every run) and the Airflow home
in $AIRFLOW_HOME, so `make airflow-ui` shows the same runs afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PERIODS = ("2025-01", "2025-12")
ROLLUPS = (("tthc_quarterly_report", ("2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4")),
           ("tthc_half_year_report", ("2025-H1", "2025-H2")),
           ("tthc_annual_report", ("2025",)))
# Fewer dossiers per unit and month than the fake portal's default (80-400): twelve months stay quick.
DOSSIERS_PER_UNIT_MONTH = (40, 160)


def main() -> int:
    data_root = Path(os.environ.get("TTHC_DATA_DIR") or ROOT / "data")
    demo = data_root / "demo"
    if demo.exists():
        shutil.rmtree(demo)
    os.environ.update({
        "TTHC_DATA_DIR": str(demo),
        "TTHC_SHARED_DRIVE": str(demo / "shared_drive"),
    })
    os.environ.setdefault("AIRFLOW_HOME", str(ROOT / ".airflow"))
    os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(ROOT / "dags"))
    os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(ROOT / "plugins"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    # Task logs stay in Airflow (visible in the UI); the terminal gets one line per period.
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")

    from tthc.catalogue import Catalogue
    from tthc_testing.sample_share import generate_shared_drive
    from tthc.periods import Period
    from tthc_testing.fake_portal import FakePortal
    from tthc.settings import Settings

    # The provincial portal's stand-in: realistic dossiers for every unit, with personal data that
    # the pipeline must drop at the edge. Tasks reach it through the same settings as a real one.
    portal = FakePortal(token="demo-token", dossiers_per_unit_month=DOSSIERS_PER_UNIT_MONTH).start()
    os.environ.update({"TTHC_PORTAL_URL": portal.url, "TTHC_PORTAL_TOKEN": portal.token,
                       "TTHC_PII_SALT": "demo-salt-kept-outside-the-warehouse"})
    print(f"fake provincial portal: {portal.url}")
    settings = Settings.from_env()
    periods = Period.range(Period.parse(PERIODS[0]), Period.parse(PERIODS[1]))
    t0 = time.monotonic()
    manifest = generate_shared_drive(settings.shared_drive, Catalogue.load(settings.catalogue_dir), periods,
                                     calendar=settings.calendar,
                                     observed=_portal_figures(settings, periods, demo / "scratch"))
    files = sum(len(u["files"]) for p in manifest.values() for u in p.values())
    print(f"sample shared drive: {settings.shared_drive} ({files} submissions, {time.monotonic() - t0:.1f} s)")

    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, stdout=subprocess.DEVNULL)
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        print(f"DAG import errors: {bag.import_errors}", file=sys.stderr)
        return 1
    monthly, report = bag.get_dag("tthc_monthly_shared_drive"), bag.get_dag("tthc_monthly_report")

    failed = []
    for period in periods:
        t = time.monotonic()
        # The logical date the timetable gives the period's run (its start): the run processes that period.
        run = monthly.test(logical_date=settings.calendar.bounds(period)[0])
        # Under a scheduler the tthc_marts asset event starts the report DAG; dag.test() runs one DAG,
        # so the demo starts it the way ops would for a re-run: with the period in its conf.
        report_run = report.test(run_conf={"period": period.label})
        seconds = time.monotonic() - t
        states = (str(run.state), str(report_run.state))
        if states != ("success", "success"):
            failed.append(period.label)
        print(f"{period.label}: monthly {states[0]}, report {states[1]} in {seconds:.1f} s — {_summary(settings, period)}")
    from tthc.periods import RollupPeriod

    for dag_id, labels in ROLLUPS:
        rollup_dag = bag.get_dag(dag_id)
        for label in labels:
            t = time.monotonic()
            rollup = RollupPeriod.parse(label)
            run = rollup_dag.test(logical_date=settings.calendar.bounds(rollup)[0], run_conf={"period": label})
            if str(run.state) != "success":
                failed.append(label)
            print(f"{label}: {dag_id} {run.state} in {time.monotonic() - t:.1f} s — {_rollup_summary(settings, label)}")
    print(f"\nreports under {settings.reports_dir}:")
    for path in sorted(settings.reports_dir.rglob("BaoCao_*")):
        print(f"  {path}")
    print(f"\ntotal {time.monotonic() - t0:.1f} s; see the runs with `make airflow-ui` (http://localhost:8080)")
    portal.stop()
    return 1 if failed else 0


def _portal_figures(settings, periods, scratch: Path) -> dict:
    """What the portal's dossiers say each unit did, counted by the pipeline itself on a scratch
    warehouse, so the sample self-reports agree with the portal except where a unit misreports."""
    from tthc import orchestration, warehouse

    scratch_settings = settings.with_(warehouse_url=f"sqlite:///{scratch / 'warehouse.sqlite'}",
                                      archive_dir=scratch / "archive")
    figures: dict = {}
    for period in periods:
        orchestration.run_portal(scratch_settings, period)
        with warehouse.transaction(scratch_settings.warehouse_url) as conn:
            for r in warehouse.query(conn, "queries/portal_figures", period=period.label):
                figures.setdefault((period.label, r["unit_code"]), {})[r["indicator_code"]] = (
                    r["numerator"], r["denominator"])
    shutil.rmtree(scratch)
    return figures


def _rollup_summary(settings, label: str) -> str:
    from sqlalchemy import text

    from tthc.warehouse import transaction

    with transaction(settings.warehouse_url) as conn:
        met, judged, stretch, stretch_judged = conn.execute(text(
            "SELECT SUM(CASE WHEN meets_target THEN 1 ELSE 0 END), COUNT(meets_target), "
            "SUM(CASE WHEN meets_stretch THEN 1 ELSE 0 END), COUNT(meets_stretch) "
            "FROM mart_area_kpi_rollup WHERE rollup_period = :r"), {"r": label}).one()
        units, merged = conn.execute(text(
            "SELECT COUNT(DISTINCT unit_code), COUNT(DISTINCT CASE WHEN predecessor_units > 0 THEN unit_code END) "
            "FROM mart_unit_kpi_rollup WHERE rollup_period = :r"), {"r": label}).one()
    text_ = f"indicators meeting target {met or 0}/{judged}; units {units} ({merged} including old communes)"
    if stretch_judged:
        text_ += f"; end-of-year stretch targets met {stretch or 0}/{stretch_judged}"
    return text_


def _summary(settings, period) -> str:
    from sqlalchemy import text

    from tthc.warehouse import transaction

    with transaction(settings.warehouse_url) as conn:
        status = dict(conn.execute(text("SELECT status, COUNT(*) FROM mart_submission_status "
                                        "WHERE period = :p GROUP BY status"), {"p": period.label}).all())
        met, judged = conn.execute(text(
            "SELECT SUM(CASE WHEN meets_target THEN 1 ELSE 0 END), COUNT(meets_target) "
            "FROM mart_area_kpi_monthly WHERE period = :p"), {"p": period.label}).one()
        sources = dict(conn.execute(text("SELECT source, COUNT(*) FROM mart_unit_kpi_monthly WHERE period = :p "
                                         "GROUP BY source"), {"p": period.label}).all())
        gaps = conn.execute(text("SELECT COUNT(*) FROM mart_reconciliation WHERE period = :p"),
                            {"p": period.label}).scalar()
    order = ("on_time", "late", "rejected", "missing")
    return (", ".join(f"{k} {status.get(k, 0)}" for k in order)
            + f"; figures shared_drive {sources.get('shared_drive', 0)}, portal {sources.get('portal', 0)}"
            + f"; discrepancies {gaps}; indicators meeting target {met or 0}/{judged}")


if __name__ == "__main__":
    sys.exit(main())

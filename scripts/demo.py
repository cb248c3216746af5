"""`make demo`: a year of the district's reporting, run by Airflow the way a deployment runs it.

A sample shared drive for 2025-01..12 and a fake provincial portal on 127.0.0.1, then a real local
Airflow (scheduler, dag-processor, api-server; LocalExecutor) over $AIRFLOW_HOME (default .airflow),
its metadata DB the database tthc_demo_airflow on the local PostgreSQL server (see _metadata_db):

1. Airflow's own backfill (the REST API, as `tthc backfill` does) of `tthc_monthly_shared_drive`
   for 2025-01..12, four periods at a time; then the quarterly, half-year and annual roll-ups.
   Runs carry their period: the data interval, and a run note in Vietnamese words. Meanwhile the
   report DAG runs on the `tthc_marts` asset events the monthly runs leave, as in production.
   The deployment goes live with the next period (`TTHC_SCHEDULE_FROM`, for this run only): the
   unpaused DAGs' own schedule starts there, so the scheduler runs the backfills and nothing else
   (the sample drive stops at 2025-12).
2. Once every run has ended, the monthly and roll-up DAGs are paused again and every component is
   stopped. Airflow marks a backfill complete on its own 30 s timer: the next start of the scheduler
   (`make airflow-ui`) does it, and `tthc backfill` waits for it if asked meanwhile.

Afterwards `make airflow-ui` shows these runs (real start and end times, task logs), `tthc status
--period 2025-03` reads the same warehouse (the default data folder, $TTHC_DATA_DIR or ./data), and
unpausing `tthc_monthly_shared_drive` goes on with 2026-01.

The year spans the reorganisation: 30 units report through 2025-06, the five new communes from
2025-07 (their year to date and the annual report include the old communes' figures).

Both folders and the database are recreated on every run; a folder or database the demo did not
create is never deleted.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PERIODS = ("2025-01", "2025-12")
MONTHLY_DAG, REPORT_DAG = "tthc_monthly_shared_drive", "tthc_monthly_report"
ROLLUPS = {"tthc_quarterly_report": ("2025-Q1", "2025-Q4"),
           "tthc_half_year_report": ("2025-H1", "2025-H2"),
           "tthc_annual_report": ("2025", "2025")}
# Months at once: the twelve took 74-82 s with 3, 69-70 s with 4, 64-69 s with 6 (2 cores, busy throughout);
# once the fake portal answered without Nagle's delay, 59-65 s with 4 and 62 s with 6.
MAX_ACTIVE_RUNS = 4
# Task slots and portal fetches at once. Much of a task's time is waiting (the API server, the
# metadata DB, the portal), not CPU: the twelve months took 90 s with 16 slots, 98-103 s with 8 and
# longer with 4 (the short fetches queued behind the long ingest and validation tasks of three runs).
# The fake portal on 127.0.0.1 needs none of the pool's care for a real one.
PARALLELISM = PORTAL_SLOTS = 16
# Fewer dossiers per unit and month than the fake portal's default (80-400): twelve months stay quick.
DOSSIERS_PER_UNIT_MONTH = (40, 160)
MARKER = ".tthc-demo"  # in each folder the demo created (and so may delete); its database's comment
METADATA_DB = "tthc_demo_airflow"  # Airflow's metadata DB on the local PostgreSQL server
TERMINAL = {"success", "failed"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--to", default=PERIODS[1], metavar="YYYY-MM",
                        help=f"last month (default {PERIODS[1]}); roll-ups only for whole periods up to it")
    parser.add_argument("--drop-database", action="store_true",
                        help=f"only drop the demo's Airflow metadata DB ({METADATA_DB}) from the PostgreSQL "
                             f"server, as `make clean` does")
    args = parser.parse_args(argv)
    if args.drop_database:
        return _drop_metadata_db()
    # SIGTERM or a closed terminal unwinds like Ctrl-C, so every component and the portal are stopped.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: sys.exit(128 + signum))
    # This process's own log lines stay quiet (tasks log at INFO into Airflow, visible in the UI).
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
    t0 = time.monotonic()
    data_dir = Path(os.environ.get("TTHC_DATA_DIR") or ROOT / "data").resolve()
    airflow_home = Path(os.environ.get("AIRFLOW_HOME") or ROOT / ".airflow").resolve()
    for folder in (data_dir, airflow_home):
        _recreate(folder)
    metadata_url = _metadata_db(airflow_home)  # before anything starts: it may refuse
    # Every TTHC setting at its default under the data folder, as `tthc` reads it afterwards.
    for var in [v for v in os.environ if v.startswith("TTHC_") and v != "TTHC_PERIOD_SCHEME"]:
        del os.environ[var]
    os.environ["TTHC_DATA_DIR"] = str(data_dir)

    from tthc import backfill
    from tthc.periods import Period
    from tthc.settings import Settings
    from tthc_airflow.local_cluster import AirflowCluster, ClusterError
    from tthc_testing.fake_portal import FakePortal

    # The provincial portal's stand-in: realistic dossiers for every unit, with personal data that
    # the pipeline must drop at the edge. Tasks reach it through the same settings as a real one.
    portal = FakePortal(token="demo-token", dossiers_per_unit_month=DOSSIERS_PER_UNIT_MONTH).start()
    portal_env = {"TTHC_PORTAL_URL": portal.url, "TTHC_PORTAL_TOKEN": portal.token,
                  "TTHC_PII_SALT": "demo-salt-kept-outside-the-warehouse"}
    os.environ.update(portal_env)
    print(f"fake provincial portal: {portal.url}")
    settings = Settings.from_env()
    periods = Period.range(Period.parse(PERIODS[0]), Period.parse(args.to))
    # For this run only (not in airflow.cfg, which `make airflow-ui` reuses): no scheduled period
    # before the next one (none can end while the demo runs), and the DAG files, which do not change
    # meanwhile, parsed once (not again every 30 s).
    live = settings.calendar.containing(datetime.now(timezone.utc)).shift(1)
    env = {"TTHC_DATA_DIR": str(data_dir), **portal_env, **_airflow_secrets(settings, portal),
           "TTHC_SCHEDULE_FROM": live.label, "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "3600"}
    if os.environ.get("TTHC_PERIOD_SCHEME"):
        env["TTHC_PERIOD_SCHEME"] = os.environ["TTHC_PERIOD_SCHEME"]
    cluster = AirflowCluster(airflow_home, metadata_url, env=env, parallelism=PARALLELISM)
    (airflow_home / MARKER).touch()
    failed: list[str] = []
    idle = False
    # Each period's share files, after its portal figures are counted by the pipeline itself (GX
    # included), a period per process on both cores, while Airflow starts beside them. The two
    # processes fork from one that loaded GX (≈ 4.5 s of CPU) once, not each for itself.
    scratch = data_dir / "scratch"
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["__main__", "great_expectations", "tthc.orchestration",
                                    "tthc_testing.sample_share"])
    pool = ProcessPoolExecutor(2, mp_context=context)
    try:
        t = time.monotonic()
        # Submitted from a thread: starting the pool's processes waits until their server has loaded
        # GX, which this thread spends starting Airflow.
        with ThreadPoolExecutor(1) as submitter:
            submitting = submitter.submit(
                lambda: [pool.submit(_sample_period, settings, period, periods, scratch / period.label)
                         for period in periods])
            cluster.start()
        manifest = {label: units for job in submitting.result() for label, units in job.result().items()}
        pool.shutdown()
        shutil.rmtree(scratch)
        files = sum(len(u["files"]) for p in manifest.values() for u in p.values())
        print(f"sample shared drive: {settings.shared_drive} ({files} submissions) and Airflow started, "
              f"{time.monotonic() - t:.1f} s")
        api = backfill.AirflowApi(cluster.base_url)
        cluster.ensure_pool(slots=PORTAL_SLOTS, description="Portal fetches running at once (one mapped task per unit)")
        cluster.wait_for_dags([MONTHLY_DAG, REPORT_DAG, *ROLLUPS])
        cluster.set_paused(REPORT_DAG, False)  # the others once their backfill is created (_run_backfills)
        print(f"Airflow: scheduler, dag-processor and api-server on {cluster.base_url} "
              f"(AIRFLOW_HOME {airflow_home}); backfills through its REST API")

        window = backfill.period_window(periods[0].label, periods[-1].label, settings.calendar)
        failed += _run_backfills(api, cluster, {MONTHLY_DAG: window},
                                 lambda label: _summary(settings, Period.parse(label)))
        # The roll-ups once every month is aggregated (their sensors would otherwise wait an hour).
        rollups = {dag_id: backfill.period_window(whole[0], whole[-1], settings.calendar)
                   for dag_id, (first, last) in ROLLUPS.items() if (whole := _whole_rollups(first, last, periods[-1]))}
        failed += _run_backfills(api, cluster, rollups, lambda label: _rollup_summary(settings, label))
        t = time.monotonic()
        reports = _wait_for_report_runs(api, cluster)
        failed += [r["dag_run_id"] for r in reports if r["state"] != "success"]
        print(f"{REPORT_DAG}: {len(reports)} run(s) on the tthc_marts events, {', '.join(r['state'] for r in reports)} "
              f"(the last ended {time.monotonic() - t:.1f} s after the roll-ups)")
        # Once no task runs (on a SQLite metadata DB, see _metadata_db).
        for dag_id in (MONTHLY_DAG, *ROLLUPS):
            cluster.set_paused(dag_id, True)
        idle = True  # every run has ended and none can start: the components may stop together
    except (ClusterError, backfill.BackfillError) as exc:
        print(f"demo: {exc}", file=sys.stderr)
        failed.append("airflow")
    finally:
        pool.shutdown(cancel_futures=True)
        print(f"stopping Airflow: {cluster.stop(idle=idle)}")
        portal.stop()
    print(f"\nreports under {settings.reports_dir}:")
    for path in sorted(settings.reports_dir.rglob("BaoCao_*")):
        print(f"  {path}")
    print(f"\ntotal {time.monotonic() - t0:.1f} s. Next: `make airflow-ui` (http://localhost:8080: the runs, "
          f"their notes and task logs), `.venv/bin/tthc status --period 2025-03`")
    if failed:
        print(f"FAILED: {', '.join(failed)} (task logs under {airflow_home / 'logs'})", file=sys.stderr)
    return 1 if failed else 0


def _airflow_secrets(settings, portal) -> dict[str, str]:
    """The Airflow variables and connections every task reads (tthc_airflow.task_settings), as
    Airflow's environment-variable secrets, holding the values the TTHC_* settings give anyway. Unset,
    each task asks the API server for all five (a 404 each): 40 % of its requests in a demo."""
    import json

    from tthc_airflow import PORTAL_CONN_ID, VARIABLES, WAREHOUSE_CONN_ID

    env = {f"AIRFLOW_VAR_{var.upper()}": str(getattr(settings, field)) for var, field in VARIABLES.items()}
    env[f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}"] = json.dumps(
        {"conn_type": "generic", "extra": {"url": settings.warehouse_url}})
    env[f"AIRFLOW_CONN_{PORTAL_CONN_ID.upper()}"] = json.dumps(
        {"conn_type": "http", "host": portal.url, "password": portal.token,
         "extra": {"profile": settings.portal_profile}})
    return env


def _metadata_db(airflow_home: Path) -> str:
    """Airflow's metadata DB for this run: a database of the demo's own (METADATA_DB, recreated) on
    the local PostgreSQL server (DEMO_PG_ADMIN_URL), as in a deployment; SQLite in AIRFLOW_HOME when
    no server answers. On SQLite, Airflow 3.3's API server can stall for a minute: a write through
    the REST API (pause, backfill) commits its audit-log row on the server's event loop while a task's
    request, which holds SQLite's one write lock, needs that loop to commit (seen in 1 demo run of 4)."""
    from tthc_airflow.local_cluster import default_metadata_url
    from tthc_testing import local_postgres as pg

    admin_url = _pg_admin_url()
    if no_server := _no_server(admin_url):
        print(f"{no_server}: Airflow's metadata DB is SQLite in {airflow_home} instead, on which its API "
              f"server can stall for a minute; set DEMO_PG_ADMIN_URL to a server's maintenance database",
              file=sys.stderr)
        return default_metadata_url(airflow_home)
    _drop_own_database(admin_url)
    return pg.create_database(admin_url, METADATA_DB, comment=MARKER)


def _drop_metadata_db() -> int:
    from tthc_testing import local_postgres as pg

    admin_url = _pg_admin_url()
    if no_server := _no_server(admin_url):
        print(f"{no_server}: no database dropped", file=sys.stderr)
    elif _drop_own_database(admin_url):
        print(f"dropped database {METADATA_DB} on {pg.shown(admin_url)}")
    return 0


def _pg_admin_url() -> str:
    from tthc_testing import local_postgres as pg

    return os.environ.get("DEMO_PG_ADMIN_URL") or pg.LOCAL_ADMIN_URL


def _no_server(admin_url: str) -> str | None:
    """What to say when the server does not answer (no password); None when it does."""
    from tthc_testing import local_postgres as pg

    problem = pg.unreachable(admin_url)
    return None if problem is None else f"demo: no PostgreSQL server at {pg.shown(admin_url)} ({problem})"


def _drop_own_database(admin_url: str) -> bool:
    """Drop METADATA_DB if the demo made it (its comment); whether there was one; refuse any other."""
    from tthc_testing import local_postgres as pg

    exists, comment = pg.database_comment(admin_url, METADATA_DB)
    if exists and comment != MARKER:
        sys.exit(f"demo: database {METADATA_DB} on {pg.shown(admin_url)} was not made by the demo; drop or "
                 f"rename it, or set DEMO_PG_ADMIN_URL to another server")
    pg.drop_database(admin_url, METADATA_DB)
    return exists


def _recreate(folder: Path) -> None:
    """Empty `folder` if the demo made it (its marker) or it is empty; refuse anything else."""
    if folder.exists() and any(folder.iterdir()) and not (folder / MARKER).exists():
        sys.exit(f"demo: {folder} holds files the demo did not write; move them away or point "
                 f"TTHC_DATA_DIR / AIRFLOW_HOME elsewhere")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / MARKER).touch()


def _whole_rollups(first: str, last: str, last_month) -> list[str]:
    from tthc.backfill import periods_between

    return [r.label for r in periods_between(first, last) if r.last <= last_month]


def _run_backfills(api, cluster, windows: dict, describe) -> list[str]:
    """A backfill of each DAG over its window, all at once, until all their runs end; each run printed
    as it ends (period, note, seconds, what it found); the failed ones returned."""
    from tthc import backfill

    for dag_id, window in windows.items():
        cluster.set_paused(dag_id, False)  # backfill.create pauses it while Airflow makes the runs
        backfill.create(api, dag_id, window, MAX_ACTIVE_RUNS)
    t = time.monotonic()
    done: set[tuple[str, str]] = set()
    failed = []
    while True:
        cluster.check_alive()
        for dag_id, window in windows.items():
            label_of = dict(zip(window.starts, window.labels))
            for run in backfill.runs_of(api, dag_id, window):
                label = label_of.get(_ts(run["logical_date"]))
                if run["state"] in TERMINAL and label and (dag_id, label) not in done and run["end_date"]:
                    done.add((dag_id, label))
                    seconds = (_ts(run["end_date"]) - _ts(run["start_date"])).total_seconds()
                    print(f"{label}: {dag_id} {run['state']} in {seconds:.0f} s [{run['note']}] — {describe(label)}",
                          flush=True)
                    if run["state"] != "success":
                        failed.append(f"{dag_id} {label}")
        if len(done) == sum(len(w.labels) for w in windows.values()):
            print(f"  backfill of {', '.join(windows)}: {len(done)} run(s) in {time.monotonic() - t:.0f} s", flush=True)
            return failed
        time.sleep(1)


def _wait_for_report_runs(api, cluster, timeout: float = 600) -> list[dict]:
    """The report DAG's runs once the asset events are all consumed and every run ended."""
    from tthc_airflow.local_cluster import ClusterError

    deadline = time.monotonic() + timeout
    while True:
        cluster.check_alive()
        runs = api.get(f"/api/v2/dags/{REPORT_DAG}/dagRuns", limit=100)["dag_runs"]
        if runs and all(r["state"] in TERMINAL for r in runs) and not _events_waiting(api):
            return runs
        if time.monotonic() > deadline:
            raise ClusterError(f"{REPORT_DAG}: runs not finished after {timeout:.0f} s: "
                               f"{[(r['dag_run_id'], r['state']) for r in runs]}")
        time.sleep(1)


def _events_waiting(api) -> bool:
    return bool(api.get(f"/api/v2/dags/{REPORT_DAG}/assets/queuedEvents").get("total_entries"))


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _sample_period(settings, period, periods, scratch: Path) -> dict:
    """The share's files of `period` (planned over all `periods`); its manifest part."""
    from tthc.catalogue import Catalogue
    from tthc_testing.sample_share import generate_shared_drive

    return generate_shared_drive(settings.shared_drive, Catalogue.load(settings.catalogue_dir), periods,
                                 calendar=settings.calendar, observed=_portal_figures(settings, period, scratch),
                                 only=[period])


def _portal_figures(settings, period, scratch: Path) -> dict:
    """What the portal's dossiers say each unit did in `period`, counted by the pipeline itself on a
    scratch warehouse, so the sample self-reports agree with the portal except where a unit misreports."""
    from tthc import orchestration, warehouse

    scratch_settings = settings.with_(warehouse_url=f"sqlite:///{scratch / 'warehouse.sqlite'}",
                                      archive_dir=scratch / "archive")
    figures: dict = {}
    orchestration.run_portal(scratch_settings, period)
    with warehouse.transaction(scratch_settings.warehouse_url) as conn:
        for r in warehouse.query(conn, "queries/portal_figures", period=period.label):
            figures.setdefault((period.label, r["unit_code"]), {})[r["indicator_code"]] = (
                r["numerator"], r["denominator"])
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

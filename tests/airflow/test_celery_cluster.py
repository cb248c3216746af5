"""The pipeline on a real Celery cluster, set up as docker-compose.yaml deploys it, losing a worker mid-run.

Separate processes on this machine: api-server, scheduler, dag-processor, triggerer and two Celery workers
(`airflow celery worker --concurrency 2`, hostnames tthc-worker-1 and -2); Redis as the broker (DB 15 and
a key prefix of this run's own, so parallel runs never share a queue); PostgreSQL for Airflow's metadata
and for the warehouse (fresh databases, dropped afterwards; the warehouse owned by a role that is no
superuser, made by deploy/warehouse-db/10-tthc-roles.sql as in the compose file); the fake portal as a
process of its own; the sample shared drive. Every Airflow and TTHC setting is the compose file's
(`x-airflow-common`), with this machine's hosts, paths and secrets and a few timeouts made small
(TEST_SIZES); `test_the_cluster_sets_the_compose_files_keys` checks both set the same keys.

The backfill of 2025-01..2025-03 runs three periods at a time. As soon as a portal fetch has been running
for a moment, the worker running it is lost: SIGKILL to its whole process tree at once. Airflow's own
mechanisms must bring the run home: the dead worker's tasks stop heart-beating, the scheduler fails
their try after `task_instance_heartbeat_timeout` and retries them on the other worker; the broker hands
the dead worker's unacknowledged messages out again after the visibility timeout (acks_late), where
the API server refuses them (that try is over). Then:
- every run succeeded; only the tasks lost with the worker needed a second try, on the other worker;
- both workers ran tasks; the `tthc_portal` pool held fetches to its slots across both workers;
- each unit-period was loaded once and whole: one `loaded` portal_batch row, as many fact_dossier rows
  as it says, the same rows as the reference, one archive and no half-written file taking its place;
- the marts equal those of `tthc run --period` for each period in order into another warehouse.
The backfill's duration and the recovery's (kill → lost try failed → retried task done) are printed
(`pytest -s`) and are the figures in the README.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from tests.support import cluster as cluster_support
from tests.support import PG_ADMIN_URL, ROOT, missing
from tests.support.cluster import (compose_environment, create_backfill, environment_for_this_machine, failure_details,
                                   mart_rows, max_overlap, state_summary, still_running, table_differences, ts)
from tests.support.catalogue import write_catalogue
from tests.support.deployment import app_role_warehouse
from tthc import cli
from tthc.catalogue import Catalogue
from tthc.periods import Period
from tthc.settings import DEFAULT_CATALOGUE_DIR
from tthc_airflow import PORTAL_POOL
from tthc_airflow.local_cluster import (ALL_COMPONENTS, AirflowCluster, ClusterError, airflow_cluster, free_port,
                                        group_members)
from tthc_testing.sample_share import generate_shared_drive

pytestmark = [pytest.mark.airflow, pytest.mark.postgres]

DAG_ID = "tthc_monthly_shared_drive"
PERIODS = Period.range(Period(2025, 1), Period(2025, 3))
MAX_ACTIVE_RUNS = 3
WORKERS = 2
POOL_SLOTS = 2  # fewer than the workers' 4 slots, so the pool, not the workers, bounds the fetches
# Units reporting in the run (the catalogue's others are left out to keep the test to a few minutes on
# 2 cores): departments and communes, Phòng Tư pháp for NQ02-2.
UNITS = ("VL-VP", "VL-TP", "VL-NV", "X-19363", "X-19366", "X-19369")
DOSSIERS_PER_MONTH = (1500, 2500)  # a few pages per unit-period
# Each page waits this long, so a fetch seen running for a second still runs when its worker is killed
# (without it a fetch could end between being seen and the kill: nothing was lost, CI run of 2026-11-29).
PAGE_DELAY = 1.5
REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 15  # DB 15 for tests; compose uses 0
TIMEOUT = 900  # seconds for the whole test (a few minutes on 2 cores; more while other jobs share them)
MARTS = ("mart_unit_kpi_monthly", "mart_area_kpi_monthly", "mart_submission_status", "mart_reconciliation")
# Values of the compose file's settings made small for the test (the keys are the compose file's).
TEST_SIZES = {
    "AIRFLOW__CORE__PARALLELISM": "4",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
    # A lost task is failed after 20 s without a heartbeat (checked every 2 s) and retried 5 s later.
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
    "AIRFLOW__CORE__MAX_TASK_RETRY_DELAY": "5",
    # Longer than any task of this test runs, as the compose file's is for production tasks.
    "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "60",
    # A task whose message died with the worker is queued again after 90 s (checked every 5 s); a task
    # only waiting for a free worker slot that long is queued again too, harmlessly (same try).
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "90",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "5",
    # The scheduler's health server listens on a fixed port (8974) another run on this machine may hold.
    "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "false",
}
# What Docker gives each container and one machine cannot: a hostname of its own (task instances
# record it). Only the workers set it.
WORKER_IDENTITY_KEYS = {"AIRFLOW__CORE__HOSTNAME_CALLABLE"}


def _progress(t0: float, message: str) -> None:
    print(f"[celery-test {time.monotonic() - t0:6.1f} s] {message}", flush=True)


def _left(deadline: float) -> float:
    return max(5.0, deadline - time.monotonic())


def _settings_keys(env: dict[str, str]) -> set[str]:
    return {k for k in env if k.startswith(("AIRFLOW__", "TTHC_"))}


def celery_environment(*, port: int, home: Path, metadata_url: str, broker_url: str, key_prefix: str,
                       warehouse_url: str, data: Path, share: Path, catalogue: Path, portal_url: str,
                       portal_token: str, salt: str) -> dict[str, str]:
    """docker-compose.yaml's Airflow environment with this machine's hosts, paths and secrets."""
    from cryptography.fernet import Fernet

    return environment_for_this_machine({
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{metadata_url}",
        "AIRFLOW__CELERY__BROKER_URL": broker_url,
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": key_prefix,
        "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_hex(32),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "TTHC_DATA_DIR": str(data),
        "TTHC_CATALOGUE_DIR": str(catalogue),
        "TTHC_WAREHOUSE_URL": warehouse_url,
        "TTHC_SHARED_DRIVE": str(share),
        "TTHC_ARCHIVE_DIR": str(data / "archive"),
        "TTHC_REPORTS_DIR": str(data / "reports"),
        "TTHC_PORTAL_URL": portal_url,
        "TTHC_PORTAL_TOKEN": portal_token,
        "TTHC_PII_SALT": salt,
        **TEST_SIZES,
    })


# --- settings: the compose file's, checked without starting anything ----------------------------


def _example_environment(tmp_path: Path) -> dict[str, str]:
    return celery_environment(
        port=8080, home=tmp_path, metadata_url="postgresql+psycopg2://postgres@127.0.0.1:5432/m",
        broker_url="redis://127.0.0.1:6379/15", key_prefix="t:", warehouse_url="postgresql+psycopg2://w@127.0.0.1/w",
        data=tmp_path / "data", share=tmp_path / "share", catalogue=tmp_path / "catalogue",
        portal_url="http://127.0.0.1:1", portal_token="t", salt="s" * 32)


def test_the_cluster_sets_the_compose_files_keys(tmp_path):
    env = _example_environment(tmp_path)
    cluster = AirflowCluster(tmp_path / "home", env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], env=env,
                             components=ALL_COMPONENTS, celery_workers=WORKERS)
    compose_keys = _settings_keys(compose_environment())
    assert {"AIRFLOW__CORE__EXECUTOR", "AIRFLOW__CELERY__BROKER_URL", "AIRFLOW__CELERY__TASK_ACKS_LATE",
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE", "TTHC_WAREHOUSE_URL", "TTHC_PII_SALT"} <= compose_keys
    assert set(cluster.components) == {"api-server", "scheduler", "dag-processor", "triggerer", "worker-1", "worker-2"}
    for name, (_, extra) in cluster.components.items():
        keys = _settings_keys({**cluster.env, **extra})
        identity = WORKER_IDENTITY_KEYS if name.startswith("worker-") else set()
        assert keys == compose_keys | identity, name
    # Only hosts, paths, secrets and the listed sizes differ from the compose file's values.
    assert cluster.env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert cluster.env["AIRFLOW__CELERY__TASK_ACKS_LATE"] == "true"
    assert cluster.env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"] == compose_environment()["AIRFLOW__OPERATORS__DEFAULT_QUEUE"]
    assert all(cluster.env[k] == v for k, v in TEST_SIZES.items())


def test_a_compose_setting_without_a_local_value_stops_the_cluster(monkeypatch):
    compose = {"AIRFLOW__CELERY__BROKER_URL": "redis://redis:6379/0", "TTHC_PII_SALT": "${TTHC_PII_SALT:?in .env}",
               "TTHC_DATA_DIR": "/opt/tthc/data", "TTHC_DEADLINE_WORKDAYS": "${TTHC_DEADLINE_WORKDAYS:-3}"}
    monkeypatch.setattr(cluster_support, "compose_environment", lambda: compose)
    with pytest.raises(ClusterError) as err:
        environment_for_this_machine({})
    assert all(key in str(err.value) for key in ("AIRFLOW__CELERY__BROKER_URL", "TTHC_PII_SALT", "TTHC_DATA_DIR"))
    assert "TTHC_DEADLINE_WORKDAYS" not in str(err.value)
    local = {"AIRFLOW__CELERY__BROKER_URL": "redis://127.0.0.1:6379/15", "TTHC_PII_SALT": "x", "TTHC_DATA_DIR": "/tmp/d"}
    assert environment_for_this_machine(local) == {**local, "TTHC_DEADLINE_WORKDAYS": "3"}
    with pytest.raises(ClusterError, match="TTHC_NOT_IN_COMPOSE"):
        environment_for_this_machine({**local, "TTHC_NOT_IN_COMPOSE": "1"})


# --- a task on a Celery pool process -------------------------------------------------------------


def _parse_in_pool_process(path: str, plain: bool):
    """In a billiard pool process (as a Celery task runs): the shared drive's sandboxed parse."""
    from tthc.sources.shared_drive.sandbox import ParseSandbox
    from tthc_airflow import celery_worker

    if plain:
        celery_worker.plain_multiprocessing()
    try:
        with ParseSandbox() as sandbox:
            return sorted(r.indicator_code for r in sandbox.parse(Path(path)).rows)
    except AssertionError as exc:
        return f"AssertionError: {exc}"


def test_a_task_on_a_celery_pool_process_can_start_the_parse_sandbox(tmp_path):
    """Celery's pool processes are daemonic to `multiprocessing`: without the worker module's fix the
    parse sandbox (a child process per file) cannot start in any task."""
    import billiard

    import tthc_airflow.celery_worker  # noqa: F401  in the main process first, as the Celery worker imports it

    path = tmp_path / "X-19363.csv"
    path.write_text("ma_don_vi,ky_bao_cao,ma_chi_tieu,tu_so,mau_so\nX-19363,03/2025,NQ01-3,9,10\n"
                    "X-19363,03/2025,NQ02-6,0,0\n", encoding="utf-8")
    with billiard.Pool(1) as pool:
        assert pool.apply(_parse_in_pool_process, (str(path), False)) == (
            "AssertionError: daemonic processes are not allowed to have children")
        assert pool.apply(_parse_in_pool_process, (str(path), True)) == ["NQ01-3", "NQ02-6"]


# --- services -----------------------------------------------------------------------------------


@pytest.fixture
def redis_broker():
    """Redis DB 15 with a key prefix of this test's own; the prefix's keys are deleted afterwards."""
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        missing(f"Redis is not reachable at {REDIS_HOST}:{REDIS_PORT} ({exc}); .ci/run starts it")
    prefix = f"tthc-test-{uuid.uuid4().hex[:10]}:"
    yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}", prefix
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def _admin_engine():
    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


@pytest.fixture
def app_warehouse(pg_url):
    """The warehouse as the compose file's warehouse-db makes it: owned by an application role that
    is no superuser (deploy/warehouse-db/10-tthc-roles.sql); the URL logs in as that role."""
    with app_role_warehouse(PG_ADMIN_URL) as (url, role):
        yield url, role


@pytest.fixture
def reference_warehouse(pg_url):
    """A second fresh database, for the periods run one by one with `tthc run`."""
    name = f"tthc_ref_{uuid.uuid4().hex[:10]}"
    engine = _admin_engine()
    with engine.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    from tthc.warehouse import get_engine

    get_engine(url).dispose()
    with engine.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def _small_catalogue(target: Path) -> Path:
    """The catalogue with, of the units reporting in PERIODS, only UNITS (the others are unchanged)."""
    full = Catalogue.load(DEFAULT_CATALOGUE_DIR)
    dropped = {u.code for p in PERIODS for u in full.units_in(p)} - set(UNITS)
    return write_catalogue(target, units=set(full.units) - dropped)


class FakePortalProcess:
    """`python -m tthc_testing.fake_portal` as a process of its own."""

    def __init__(self, catalogue: Path, log: Path):
        self.port, self.token = free_port(), secrets.token_hex(8)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tthc_testing.fake_portal", "--port", str(self.port), "--token", self.token,
                 "--catalogue", str(catalogue), "--per-month", *map(str, DOSSIERS_PER_MONTH),
                 "--page-delay", str(PAGE_DELAY)],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while "fake portal at" not in log.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise ClusterError(f"the fake portal did not start: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def _tries(cluster: AirflowCluster, ti: dict) -> list[dict]:
    path = (f"/api/v2/dags/{DAG_ID}/dagRuns/{ti['dag_run_id']}/taskInstances/{ti['task_id']}/"
            f"{ti['map_index']}/tries")
    return cluster.api("GET", path)["task_instances"]


def _portal_loads(url: str) -> dict:
    """Per unit-period: the portal_batch row (what was loaded) and the fact_dossier rows it has."""
    from tthc.warehouse import transaction

    with transaction(url) as conn:
        batches = {(r.period, r.unit_code): {"outcome": r.outcome, "records_fetched": r.records_fetched,
                                             "dossiers": r.dossiers, "procedures": r.procedures,
                                             "archive_path": r.archive_path}
                   for r in conn.execute(text("SELECT * FROM portal_batch"))}
        facts = dict(conn.execute(text("SELECT period || ' ' || unit_code, COUNT(*) FROM fact_dossier "
                                       "GROUP BY period, unit_code")).all())
    return {"batches": batches, "facts": facts}


# --- the cluster --------------------------------------------------------------------------------


def test_backfill_on_two_celery_workers_survives_losing_one(tmp_path, pg_url, app_warehouse, reference_warehouse,
                                                            redis_broker, monkeypatch):
    t0 = time.monotonic()
    deadline = t0 + TIMEOUT
    broker_url, key_prefix = redis_broker
    warehouse_url, app_role = app_warehouse
    catalogue = _small_catalogue(tmp_path / "catalogue")
    share = tmp_path / "share"
    manifest = generate_shared_drive(share, Catalogue.load(catalogue), PERIODS)
    assert sorted(manifest) == [p.label for p in PERIODS]
    salt = secrets.token_hex(32)
    portal = FakePortalProcess(catalogue, tmp_path / "fake_portal.log")
    leftovers: dict = {}
    try:
        # --- the reference: each period alone, in order, with the command line (in this process) --
        reference_env = {"TTHC_DATA_DIR": str(tmp_path / "reference"), "TTHC_SHARED_DRIVE": str(share),
                         "TTHC_CATALOGUE_DIR": str(catalogue), "TTHC_WAREHOUSE_URL": reference_warehouse,
                         "TTHC_PORTAL_URL": portal.url, "TTHC_PORTAL_TOKEN": portal.token, "TTHC_PII_SALT": salt}
        with monkeypatch.context() as patch:
            for name, value in reference_env.items():
                patch.setenv(name, value)
            for period in PERIODS:
                assert cli.main(["run", "--period", period.label]) == 0, f"tthc run --period {period}: see stderr"
        _progress(t0, f"reference: `tthc run` of {', '.join(p.label for p in PERIODS)} one by one")

        # --- the cluster ------------------------------------------------------------------------
        port, home = free_port(), tmp_path / "airflow_home"
        data = tmp_path / "cluster"
        env = celery_environment(port=port, home=home, metadata_url=pg_url, broker_url=broker_url,
                                 key_prefix=key_prefix, warehouse_url=warehouse_url, data=data, share=share,
                                 catalogue=catalogue, portal_url=portal.url, portal_token=portal.token, salt=salt)
        # No scheduled (catch-up) runs beside the backfill's (the DAG has catchup=True).
        config = {"scheduler": {"use_job_schedule": "False"}}
        with airflow_cluster(home, pg_url, env=env, config=config, port=port, components=ALL_COMPONENTS,
                             celery_workers=WORKERS, worker_concurrency=2,
                             start_timeout=min(240, _left(deadline))) as cluster:
            pgids = cluster.pgids()
            _progress(t0, f"cluster up: {', '.join(cluster.components)} ({cluster.ready_after:.1f} s)")
            # As airflow-init does in the compose file (`airflow pools set`), through the REST API.
            cluster.api("POST", "/api/v2/pools", json={"name": PORTAL_POOL, "slots": POOL_SLOTS,
                                                       "description": "Portal fetches running at once"})
            t_create = time.monotonic()
            # Through the REST API (test_backfill_scheduler runs the `airflow backfill create` command itself).
            create_backfill(cluster, DAG_ID, PERIODS, max_active_runs=MAX_ACTIVE_RUNS, timeout=_left(deadline),
                            cli=False)
            _progress(t0, "backfill of 2025-01..2025-03 created")
            outcome = _run_and_lose_a_worker(cluster, t0, deadline, warehouse_url)
            backfill_s = time.monotonic() - t_create
            killed_tree = outcome["killed_pids"]
        leftovers = {pgid: group_members(pgid) for pgid in pgids}
    finally:
        portal.stop()
    assert not any(leftovers.values()), leftovers
    assert not still_running(killed_tree, timeout=0), "processes of the killed worker survive"

    recovery = outcome["recovery"]
    _progress(t0, f"backfill {backfill_s:.1f} s after create; worker {outcome['killed']} killed "
                  f"{outcome['kill_after_s']:.1f} s after create, running {len(outcome['victims'])} task(s) "
                  f"({', '.join(outcome['victims'])}); lost tries failed {recovery['detected_s']:.1f} s after the kill, "
                  f"retries started {recovery['retried_s']:.1f} s, done {recovery['recovered_s']:.1f} s after; "
                  f"most fetches at once {outcome['max_fetches']} (pool {POOL_SLOTS}); tasks per worker "
                  f"{outcome['per_host']}; writers queued on the advisory lock in {outcome['lock']}; "
                  f"most warehouse sessions in a transaction at once {outcome['max_in_transaction']}; queued again "
                  f"after task_queued_timeout: {outcome['requeued'] or 'none'}")

    # Each unit-period loaded once and whole, as in the reference.
    loads, expected = _portal_loads(warehouse_url), _portal_loads(reference_warehouse)
    unit_periods = {(p.label, u) for p in PERIODS for u in UNITS}
    assert set(loads["batches"]) == unit_periods
    assert {b["outcome"] for b in loads["batches"].values()} == {"loaded"}
    for (period, unit), batch in loads["batches"].items():
        assert loads["facts"][f"{period} {unit}"] == batch["dossiers"] > 0, (period, unit)
        assert batch == expected["batches"][(period, unit)], (period, unit)
    facts = ("fact_dossier", "fact_procedure")
    assert not (differences := table_differences(mart_rows(warehouse_url, facts), mart_rows(reference_warehouse, facts)))
    # One archive per unit-period. The killed fetch's half-written temporary file (`.<unit>.pending…part`,
    # hidden, never read) may stay behind; an archive renamed for a load that never committed may not.
    archive = data / "archive" / "portal"
    assert sorted(str(p.relative_to(archive)) for p in archive.rglob("[!.]*")) == sorted(
        [*(f"{period}" for period in {p for p, _ in unit_periods}), *(f"{p}/{u}.jsonl.gz" for p, u in unit_periods)])
    assert not list(archive.rglob("*.pending.jsonl.gz")), "an archive without its load is left"
    _progress(t0, f"temporary files the killed fetch left in the archive: {len(list(archive.rglob('*.part')))}")

    # The marts equal the one-by-one runs'.
    got, want = mart_rows(warehouse_url, MARTS), mart_rows(reference_warehouse, MARTS)
    for table in MARTS[:3]:
        assert {r["period"] for r in got[table]} == {p.label for p in PERIODS}, table
    assert not (differences := table_differences(got, want)), "\n".join(differences)

    # The application role did all of it without being a superuser.
    engine = _admin_engine()
    with engine.connect() as c:
        role = c.execute(text("SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = :r"),
                         {"r": app_role}).one()
    engine.dispose()
    assert tuple(role) == (False, False, False)
    _progress(t0, "marts, portal loads and archives identical to `tthc run`: "
                  + ", ".join(f"{t} {len(r)} rows" for t, r in got.items()))


class WarehouseSampler(threading.Thread):
    """Five times a second: writers waiting on the warehouse's advisory lock (serialised writes), and
    sessions inside a transaction at once (parallel ones: the portal loads take no lock)."""

    def __init__(self, warehouse_url: str):
        super().__init__(daemon=True)
        self.database = make_url(warehouse_url).database
        self.samples = self.lock_waits = self.max_in_transaction = 0
        self.done = threading.Event()

    def run(self) -> None:
        engine = _admin_engine()
        try:
            with engine.connect() as c:
                while not self.done.wait(0.2):
                    waiting, in_transaction = c.execute(text(
                        "SELECT (SELECT COUNT(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                        "        WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = :db), "
                        "       (SELECT COUNT(*) FROM pg_stat_activity WHERE datname = :db AND xact_start IS NOT NULL)"),
                        {"db": self.database}).one()
                    self.samples += 1
                    self.lock_waits += waiting > 0
                    self.max_in_transaction = max(self.max_in_transaction, in_transaction)
        finally:
            engine.dispose()


def _run_and_lose_a_worker(cluster: AirflowCluster, t0: float, deadline: float, warehouse_url: str) -> dict:
    """Follow the backfill; kill the worker running the first portal fetch seen running for over a second;
    wait for every run to end. Fails at once on a task failing that was not lost with the worker."""
    sampler = WarehouseSampler(warehouse_url)
    sampler.start()
    killed = kill_time = None
    victims: list[dict] = []
    killed_pids: list[int] = []
    last_progress = ""
    t_create = time.monotonic()
    try:
        while True:
            cluster.check_alive()
            runs = cluster.api("GET", f"/api/v2/dags/{DAG_ID}/dagRuns", params={"limit": 100})["dag_runs"]
            tis = cluster.api("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/~/taskInstances", params={"limit": 500})
            tis = tis["task_instances"]
            if killed is None:
                now = datetime.now(timezone.utc)
                running = [t for t in tis if t["task_id"] == "fetch_portal_unit" and t["state"] == "running"
                           and t["hostname"] and (now - ts(t["start_date"])).total_seconds() > 1]
                if running:
                    host = running[0]["hostname"]
                    killed = next(n for n, h in cluster.worker_hostnames.items() if h == host)
                    kill_time = datetime.now(timezone.utc)
                    kill_after = time.monotonic() - t_create
                    killed_pids = cluster.kill(killed)
                    lost = cluster.api("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/~/taskInstances", params={"limit": 500})
                    victims = [t for t in lost["task_instances"] if t["state"] == "running" and t["hostname"] == host]
                    _progress(t0, f"killed {killed} ({host}, {len(killed_pids)} processes) while it ran "
                                  + ", ".join(f"{t['task_id']}[{t['map_index']}] of {t['dag_run_id']}" for t in victims))
                    continue
            victim_keys = {(v["dag_run_id"], v["task_id"], v["map_index"]) for v in victims}
            bad = [t for t in tis if t["state"] in ("failed", "upstream_failed")
                   or (t["state"] == "up_for_retry" and (t["dag_run_id"], t["task_id"], t["map_index"]) not in victim_keys)]
            if bad:
                pytest.fail(f"a task failed that was not lost with the worker:\n{failure_details(cluster, DAG_ID, bad)}")
            states = [r["state"] for r in runs]
            if len(runs) == len(PERIODS) and set(states) <= {"success", "failed"}:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"backfill not finished in {TIMEOUT} s: runs {state_summary(runs)}; tasks "
                            f"{state_summary(tis)}\n{cluster.log_tails()}")
            if (progress := f"runs: {state_summary(runs)}; tasks: {state_summary(tis)}") != last_progress:
                _progress(t0, progress)
                last_progress = progress
            time.sleep(1)
    finally:
        sampler.done.set()
        sampler.join(timeout=10)
    assert killed, "no portal fetch was ever seen running: nothing was killed"
    assert [r for r in runs if r["state"] != "success"] == [], failure_details(cluster, DAG_ID, tis)
    assert {r["run_type"] for r in runs} == {"backfill"}
    n_tasks = cluster.api("GET", f"/api/v2/dags/{DAG_ID}/tasks")["total_entries"]
    n_mapped = len(UNITS) * len(PERIODS)
    assert len(tis) == (n_tasks - 1) * len(PERIODS) + n_mapped
    assert {t["state"] for t in tis} == {"success"}, state_summary(tis)

    # Only the tasks lost with the worker took a second try, each on the surviving worker.
    victim_keys = {(v["dag_run_id"], v["task_id"], v["map_index"]) for v in victims}
    assert victims and any(v["task_id"] == "fetch_portal_unit" for v in victims)
    survivor = next(h for n, h in cluster.worker_hostnames.items() if n != killed)
    detected, retried, recovered = [], [], []
    for ti in tis:
        key = (ti["dag_run_id"], ti["task_id"], ti["map_index"])
        if key not in victim_keys:
            assert ti["try_number"] == 1, f"{key} needed try {ti['try_number']} without being lost"
            continue
        tries = sorted(_tries(cluster, ti), key=lambda t: t["try_number"])
        lost, last = tries[0], tries[-1]
        assert lost["hostname"] == cluster.worker_hostnames[killed] and lost["state"] == "failed", lost
        assert last["state"] == "success" and last["hostname"] == survivor and last["try_number"] >= 2, last
        detected.append(ts(lost["end_date"]))
        retried.append(ts(tries[1]["start_date"]))
        recovered.append(ts(last["end_date"]))

    # Both workers ran tasks; the pool held the portal fetches to its slots across both.
    fetch_tries = [tr for ti in tis if ti["task_id"] == "fetch_portal_unit" for tr in _tries(cluster, ti)]
    all_hosts = [t["hostname"] for t in tis]
    per_host = {h: all_hosts.count(h) for h in sorted(set(all_hosts))}
    assert set(per_host) == set(cluster.worker_hostnames.values()), per_host
    max_fetches = max_overlap([(ts(t["start_date"]), ts(t["end_date"])) for t in fetch_tries])
    assert max_fetches <= POOL_SLOTS, f"{max_fetches} portal fetches ran at once; the pool has {POOL_SLOTS} slots"
    # Tasks the scheduler queued again after task_queued_timeout (e.g. a message lost with the worker).
    requeued = cluster.api("GET", "/api/v2/eventLogs", params={"dag_id": DAG_ID, "event": "stuck in queued reschedule"})
    return {
        "killed": killed, "killed_pids": killed_pids, "kill_after_s": kill_after,
        "victims": [f"{v['task_id']}[{v['map_index']}]" for v in victims],
        "recovery": {"detected_s": (max(detected) - kill_time).total_seconds(),
                     "retried_s": (max(retried) - kill_time).total_seconds(),
                     "recovered_s": (max(recovered) - kill_time).total_seconds()},
        "max_fetches": max_fetches, "per_host": per_host,
        "requeued": [f"{e['task_id']}[{e['map_index']}] of {e['run_id']}" for e in requeued["event_logs"]],
        "lock": f"{sampler.lock_waits} of {sampler.samples} samples", "max_in_transaction": sampler.max_in_transaction,
    }

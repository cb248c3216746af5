"""What the real-scheduler and Celery tests check a cluster of tthc_airflow.local_cluster with:
docker-compose.yaml's settings for processes on this machine, backfills created and checked, and
what the runs left (task errors, mart rows, overlaps, processes still running).

    with airflow_cluster(tmp_path / "airflow", metadata_db_url, env=environment_for_this_machine({...}),
                         components=ALL_COMPONENTS, celery_workers=2) as cluster:
        create_backfill(cluster, "tthc_monthly_shared_drive", periods, max_active_runs=3, timeout=300)
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from pathlib import Path

from tests.support import ROOT
from tthc_airflow.local_cluster import AirflowCluster, ClusterError, process_alive

COMPOSE_FILE = ROOT / "docker-compose.yaml"


# --- the settings of docker-compose.yaml ----------------------------------------------------------

_COMPOSE_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
# What only means something inside the compose network: its hosts and the image's paths.
_CONTAINER_ONLY = re.compile(r"@(postgres|warehouse-db|redis)[:/]|//(redis|postgres|airflow-apiserver)[:/]|/opt/")


def compose_environment() -> dict[str, str]:
    """The environment of every Airflow container (`x-airflow-common`), as docker-compose.yaml writes it."""
    import yaml

    env = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))["x-airflow-common"]["environment"]
    return {key: "" if value is None else str(value) for key, value in env.items()}


def environment_for_this_machine(local: dict[str, str]) -> dict[str, str]:
    """docker-compose.yaml's Airflow environment for processes on this machine.

    `local` holds the values that differ here: the compose network's hosts, the image's paths and
    the secrets of .env (each must be given: a setting added to the compose file either reaches
    the test cluster or stops it here), and sizes and timeouts made small for a test. Every other
    value is the compose file's, a `${VAR:-default}` read as its default. `local` names no key the
    compose file does not set, so the two always set the same keys.
    """
    compose = compose_environment()
    if extra := sorted(set(local) - set(compose)):
        raise ClusterError(f"not set in docker-compose.yaml (x-airflow-common): {extra}")
    env, unmapped = {}, []
    for key, value in compose.items():
        if key in local:
            env[key] = local[key]
            continue
        needs_env_file = False

        def default(match: re.Match) -> str:
            nonlocal needs_env_file
            _, op, fallback = match.groups()
            if op in ("-", ":-"):
                return fallback
            needs_env_file = True  # ${VAR} or ${VAR:?...}: a secret from .env
            return ""

        env[key] = _COMPOSE_VAR.sub(default, value)
        if needs_env_file or _CONTAINER_ONLY.search(env[key]):
            unmapped.append(f"{key}: {value}")
    if unmapped:
        raise ClusterError("docker-compose.yaml settings with no value for this machine (add them to `local`):\n  "
                           + "\n  ".join(unmapped))
    return env


# --- backfills and what they left ---------------------------------------------------------------

def backfill_window(periods) -> tuple[str, str]:
    """`airflow backfill create` selects runs by *logical date*, both ends inclusive. The monthly DAG's
    timetable (data interval = the period) makes the logical date the start of the interval, so
    period P is the run whose logical date is P's first instant: 2025-03 → 2025-02-15T00:00+07:00."""
    from tthc.calendar import DEFAULT_CALENDAR

    return DEFAULT_CALENDAR.bounds(periods[0])[0].isoformat(), DEFAULT_CALENDAR.bounds(periods[-1])[0].isoformat()


def create_backfill(cluster: AirflowCluster, dag_id: str, periods, *, max_active_runs: int,
                    timeout: float, cli: bool = True) -> list[str]:
    """Wait until the DAG is parsed (no import error), unpause it, check with a dry run that the backfill
    selects exactly `periods`, then create it: with `airflow backfill create` (the documented command,
    returned), or with `cli=False` through the REST API (the same request without starting a CLI process)."""
    deadline = time.monotonic() + timeout
    cluster.wait_for_dags([dag_id], timeout=timeout)  # a backfill needs the DAG serialised
    cluster.set_paused(dag_id, False)
    start, end = backfill_window(periods)
    command = ["backfill", "create", "--dag-id", dag_id, "--from-date", start, "--to-date", end,
               "--max-active-runs", str(max_active_runs)]
    if cli:
        dry = cluster.airflow(*command, "--dry-run", timeout=max(5.0, deadline - time.monotonic())).stdout
        planned = [datetime.fromisoformat(d)
                   for d in re.findall(r"^\| (\d{4}-\d\d-\d\d [\d:]+[+-]\d\d:\d\d) ", dry, re.M)]
    else:
        body = {"dag_id": dag_id, "from_date": start, "to_date": end, "max_active_runs": max_active_runs}
        dry = cluster.api("POST", "/api/v2/backfills/dry_run", json=body)
        planned = [ts(b["logical_date"]) for b in dry["backfills"]]
    from tthc.calendar import DEFAULT_CALENDAR

    if planned != [DEFAULT_CALENDAR.bounds(p)[0] for p in periods]:
        raise ClusterError(f"the dry run selects other runs than {[p.label for p in periods]}:\n{dry}")
    if cli:
        cluster.airflow(*command, timeout=max(5.0, deadline - time.monotonic()))
    else:
        cluster.api("POST", "/api/v2/backfills", json=body)
    return command


def ts(value: str | None) -> datetime | None:
    """A timestamp of the REST API."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def max_overlap(intervals: list[tuple[datetime, datetime]]) -> int:
    """The most intervals open at one instant (one ending as another starts does not overlap)."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1]))
    best = now = 0
    for _, step in events:
        now += step
        best = max(best, now)
    return best


def state_summary(items: list[dict]) -> str:
    states = [str(i["state"]) for i in items]
    return ", ".join(f"{s}={states.count(s)}" for s in sorted(set(states)))


def task_errors(log: Path) -> list[str]:
    """The errors of a task attempt's log (JSON lines), e.g. 'WarehouseError: ... UNIQUE constraint failed'."""
    errors = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("level") in ("error", "critical"):
            details = event.get("error_detail") or []
            errors += [f"{d.get('exc_type')}: {str(d.get('exc_value'))[:400]}" for d in details] or [event.get("event", "")]
    return errors


def failure_details(cluster: AirflowCluster, dag_id: str, tis: list[dict]) -> str:
    """Each failed (or retrying) task instance with the errors of its logs."""
    out = []
    for ti in tis:
        if ti["state"] in ("failed", "up_for_retry", "upstream_failed"):
            out.append(f"{ti['dag_run_id']} {ti['task_id']}[{ti.get('map_index', -1)}]: {ti['state']} "
                       f"(try {ti['try_number']}, host {ti.get('hostname')})")
            for log in cluster.task_logs(dag_id, ti["dag_run_id"]):
                if f"task_id={ti['task_id']}" in str(log):
                    out += [f"    {log.name}: {e}" for e in task_errors(log)]
    return "\n".join(out)


def mart_rows(url: str, tables: tuple[str, ...]) -> dict[str, list[dict]]:
    """Every row of each table, in a canonical order, for comparing two warehouses."""
    from sqlalchemy import text

    from tthc.warehouse import transaction

    out = {}
    with transaction(url) as conn:
        for table in tables:
            rows = [dict(r._mapping) for r in conn.execute(text(f"SELECT * FROM {table}"))]  # noqa: S608
            out[table] = sorted(rows, key=lambda r: [(v is None, str(v)) for v in r.values()])
    return out


def table_differences(got: dict[str, list[dict]], expected: dict[str, list[dict]]) -> list[str]:
    """For each table whose rows differ: how many rows only each side has, and the first of each."""
    out = []
    for table, rows in got.items():
        if rows != expected[table]:
            only_got = [r for r in rows if r not in expected[table]]
            only_expected = [r for r in expected[table] if r not in rows]
            out.append(f"{table} differs: {len(only_got)} rows only in the cluster's warehouse, "
                       f"{len(only_expected)} only in the reference; first of each:\n"
                       f"  cluster:   {only_got[:2]}\n  reference: {only_expected[:2]}")
    return out



# --- processes ----------------------------------------------------------------------------------


def still_running(pids: list[int], timeout: float = 5) -> list[int]:
    """Those of `pids` still running (not zombies) after up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        left = [pid for pid in pids if process_alive(pid)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)

"""A real, throw-away Airflow 3 deployment for tests: scheduler + dag-processor + api-server
(+ triggerer, + Celery workers).

    with airflow_cluster(tmp_path / "airflow", metadata_db_url, env={"TTHC_...": ...}) as cluster:
        cluster.airflow("dags", "unpause", "my_dag")
        cluster.api("GET", "/api/v2/dags/my_dag/dagRuns")

- A temporary AIRFLOW_HOME with its own airflow.cfg (LocalExecutor, the given metadata database,
  small parallelism, a free random port, every user an admin so the REST API needs no token).
  Inherited AIRFLOW__* variables are dropped: the components read only that file and `env`.
- `airflow db migrate`, then each component in its own session (`setsid`), logs in AIRFLOW_HOME.
- Ready when /api/v2/monitor/health reports the metadata DB, scheduler and dag-processor (and the
  triggerer) healthy, and every Celery worker has logged that it is ready.
- `celery_workers=N`: the CeleryExecutor and N `airflow celery worker` processes, each with its own
  hostname (`tthc-worker-1`, ...), as separate containers have; the broker and the rest of the
  Celery settings come from `env` (see `compose_environment` / `environment_for_this_machine`: the
  settings of docker-compose.yaml, with local hosts, paths and secrets).
- On exit each component's process group gets SIGTERM, then SIGKILL after a timeout; no process of
  any group may remain (checked). `cluster.log_tails()` gives the end of each component's log.
  `cluster.kill("worker-1")` SIGKILLs a component's whole process tree at once, as a lost machine.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Iterator

import httpx

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
COMPONENTS = ("dag-processor", "scheduler", "api-server")
STOP_ORDER = ("scheduler", "dag-processor", "api-server")  # no new task first; the API serves tasks to the end
# Each worker's hostname: what the task instances record (`hostname`), like one container each.
WORKER_HOSTNAME_ENV = "AIRFLOW_CLUSTER_WORKER_HOSTNAME"


class ClusterError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cfg(sections: dict[str, dict[str, object]]) -> str:
    out = []
    for section, values in sections.items():
        out.append(f"[{section}]")
        out += [f"{k} = {v}" for k, v in values.items()]
        out.append("")
    return "\n".join(out)


class AirflowCluster:
    def __init__(self, home: Path, metadata_db_url: str, *, env: dict[str, str] | None = None,
                 parallelism: int = 4, port: int | None = None, config: dict[str, dict] | None = None,
                 triggerer: bool = False, celery_workers: int = 0, worker_concurrency: int = 2):
        self.home = Path(home)
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.procs: dict[str, subprocess.Popen] = {}
        self.started_at: dict[str, float] = {}
        self.ready_after: float | None = None
        # name → (airflow arguments, extra environment)
        self.components: dict[str, tuple[list[str], dict[str, str]]] = {name: ([name], {}) for name in COMPONENTS}
        if triggerer:
            self.components["triggerer"] = (["triggerer"], {})
        self.worker_hostnames: dict[str, str] = {}
        for i in range(1, celery_workers + 1):
            name, hostname = f"worker-{i}", f"tthc-worker-{i}"
            self.worker_hostnames[name] = hostname
            # The log server is skipped: every worker writes to this home's log folder, which the
            # api-server reads directly (separate hosts would serve their logs on port 8793).
            self.components[name] = (
                ["celery", "worker", "--celery-hostname", f"{hostname}@%h", "--concurrency", str(worker_concurrency),
                 "--skip-serve-logs"],
                {WORKER_HOSTNAME_ENV: hostname, "AIRFLOW__CORE__HOSTNAME_CALLABLE": "airflow_cluster.worker_hostname",
                 "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")]))})
        sections = {
            "core": {
                "dags_folder": ROOT / "dags",
                "plugins_folder": ROOT / "plugins",
                "load_examples": "False",
                "unit_test_mode": "False",
                "executor": "CeleryExecutor" if celery_workers else "LocalExecutor",
                "parallelism": parallelism,
                "execution_api_server_url": f"{self.base_url}/execution/",
                "simple_auth_manager_all_admins": "True",
                "fernet_key": _fernet_key(),
            },
            "database": {"sql_alchemy_conn": metadata_db_url},
            "logging": {"base_log_folder": self.home / "logs", "logging_level": "INFO"},
            "api": {"host": "127.0.0.1", "port": self.port, "workers": 1, "secret_key": secrets.token_hex(16)},
            "api_auth": {"jwt_secret": secrets.token_hex(32)},
            "dag_processor": {"parsing_processes": 1},
        }
        for section, values in (config or {}).items():
            sections.setdefault(section, {}).update(values)
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "airflow.cfg").write_text(_cfg(sections), encoding="utf-8")
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_"))}
        self.env = {**base, **(env or {}), "AIRFLOW_HOME": str(self.home),
                    "AIRFLOW_CONFIG": str(self.home / "airflow.cfg"), "PYTHONUNBUFFERED": "1"}

    # --- commands -----------------------------------------------------------------------------

    def airflow(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        """`airflow ARGS` against this deployment; output captured (and shown when it fails)."""
        cmd = [sys.executable, "-m", "airflow", *args]
        try:
            done = subprocess.run(cmd, env=self.env, cwd=self.home, capture_output=True, text=True,
                                  timeout=timeout, start_new_session=True)
        except subprocess.TimeoutExpired as exc:
            raise ClusterError(f"`airflow {' '.join(args)}` did not finish in {timeout} s") from exc
        if check and done.returncode != 0:
            raise ClusterError(f"`airflow {' '.join(args)}` exited {done.returncode}:\n"
                               f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done

    def api(self, method: str, path: str, **kwargs) -> dict:
        """The REST API (every caller is an admin in this deployment)."""
        r = httpx.request(method, self.base_url + path, timeout=30, **kwargs)
        if r.status_code >= 400:
            raise ClusterError(f"{method} {path}: {r.status_code} {r.text[:1000]}")
        return r.json()

    def health(self) -> dict | None:
        try:
            r = httpx.get(f"{self.base_url}/api/v2/monitor/health", timeout=5)
            return r.json() if r.status_code == 200 else None
        except httpx.HTTPError:
            return None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self, *, timeout: float = 120) -> None:
        t0 = time.monotonic()
        self.airflow("db", "migrate", timeout=timeout)
        _log(f"airflow db migrate: {time.monotonic() - t0:.1f} s")
        for name, (args, extra_env) in self.components.items():
            log = open(self.home / f"{name}.log", "ab")
            # start_new_session: setsid, so the component and every process it forks form one group.
            self.procs[name] = subprocess.Popen([sys.executable, "-m", "airflow", *args], env={**self.env, **extra_env},
                                                cwd=self.home, stdout=log, stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL, start_new_session=True)
            log.close()
            self.started_at[name] = time.monotonic()
        t1 = time.monotonic()
        deadline = t1 + timeout
        wanted = ("metadatabase", "scheduler", "dag_processor", *(["triggerer"] if "triggerer" in self.components else []))
        while True:
            self.check_alive()
            health = self.health()
            if (health and all((health.get(k) or {}).get("status") == "healthy" for k in wanted)
                    and all(self.worker_ready(name) for name in self.worker_hostnames)):
                break
            if time.monotonic() > deadline:
                raise ClusterError(f"not healthy after {timeout} s: {health}; workers ready: "
                                   f"{ {n: self.worker_ready(n) for n in self.worker_hostnames} }")
            time.sleep(0.5)
        self.ready_after = time.monotonic() - t1
        _log(f"{' + '.join(self.components)} healthy {self.ready_after:.1f} s after start (api on port {self.port})")

    def worker_ready(self, name: str) -> bool:
        """Celery logs `celery@<hostname> ready.` once the worker consumes its queues."""
        log = self.home / f"{name}.log"
        pattern = rf"\b{re.escape(self.worker_hostnames[name])}@\S+ ready\."
        return log.exists() and re.search(pattern, log.read_text(encoding="utf-8", errors="replace")) is not None

    def check_alive(self) -> None:
        dead = {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}
        if dead:
            raise ClusterError(f"component(s) exited: {dead}")

    def stop(self, *, timeout: float = 30) -> dict[str, str]:
        """SIGTERM each component's process group, SIGKILL what remains after `timeout`."""
        outcome = {}
        # No new task first, the API (which running tasks report to) last.
        order = [*STOP_ORDER[:-1], *(n for n in self.components if n not in STOP_ORDER), STOP_ORDER[-1]]
        for name in order:
            proc = self.procs.get(name)
            if proc is None:
                continue
            t0 = time.monotonic()
            pgid = proc.pid  # the leader of its own session and group
            # Task processes run in groups of their own (Airflow's supervisor setpgid's them).
            tree = process_tree(pgid)
            _signal_group(pgid, signal.SIGTERM)
            how = "SIGTERM"
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                how = "SIGKILL (ignored SIGTERM)"
                _signal_group(pgid, signal.SIGKILL)
                proc.wait(timeout=10)
            # The leader is gone; its children (executor workers, task and parsing processes) too?
            if not _group_gone(pgid, timeout=5):
                how += " + SIGKILL to leftover group members"
                _signal_group(pgid, signal.SIGKILL)
                if not _group_gone(pgid, timeout=5):
                    raise ClusterError(f"{name}: processes of group {pgid} survive SIGKILL: {group_members(pgid)}")
            if leftover := still_running(tree):
                how += f" + SIGKILL to {len(leftover)} leftover task process(es)"
                _kill_pids(leftover)
            outcome[name] = f"{how}, {time.monotonic() - t0:.1f} s"
        return outcome

    def kill(self, name: str) -> list[int]:
        """SIGKILL a component's whole process tree at once (its group and the task processes in
        groups of their own), as when its machine or container is lost. Returns the pids killed."""
        tree = process_tree(self.procs[name].pid)
        _kill_pids(tree)
        self.procs.pop(name).wait(timeout=10)  # lost: neither checked nor stopped any more
        if survivors := still_running(tree):
            raise ClusterError(f"{name}: processes {survivors} survive SIGKILL")
        return tree

    def pgids(self) -> list[int]:
        return [p.pid for p in self.procs.values()]

    def log_tails(self, lines: int = 40) -> str:
        out = []
        for name in self.components:
            path = self.home / f"{name}.log"
            if path.exists():
                tail = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
                out.append(f"----- {path} (last {len(tail)} lines) -----\n" + "\n".join(tail))
        return "\n".join(out)

    def task_logs(self, dag_id: str, run_id: str | None = None) -> list[Path]:
        root = self.home / "logs" / f"dag_id={dag_id}"
        pattern = f"run_id={run_id}/**/*.log" if run_id else "**/*.log"
        return sorted(root.glob(pattern)) if root.exists() else []


@contextmanager
def airflow_cluster(home: Path, metadata_db_url: str, *, start_timeout: float = 120, stop_timeout: float = 30,
                    **kwargs) -> Iterator[AirflowCluster]:
    cluster = AirflowCluster(home, metadata_db_url, **kwargs)
    try:
        cluster.start(timeout=start_timeout)
        yield cluster
    except BaseException:
        print(cluster.log_tails(), file=sys.stderr)
        raise
    finally:
        outcome = cluster.stop(timeout=stop_timeout)
        _log(f"stopped: {outcome}; logs in {cluster.home}")


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
    while True:  # the dag-processor must have serialised the DAG before a backfill can be created
        errors = cluster.api("GET", "/api/v2/importErrors")
        if errors["total_entries"]:
            raise ClusterError(f"DAG import errors: {errors}")
        if cluster.api("GET", "/api/v2/dags", params={"dag_id_pattern": dag_id})["dags"]:
            break
        if time.monotonic() > deadline:
            raise ClusterError(f"{dag_id} was never parsed")
        time.sleep(0.5)
    cluster.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
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


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def group_members(pgid: int) -> list[str]:
    """Live (non-zombie) processes of a process group, as 'pid state command' lines."""
    ps = subprocess.run(["ps", "-eo", "pid=,pgid=,stat=,args="], capture_output=True, text=True).stdout
    members = []
    for line in ps.splitlines():
        pid, group, stat, *args = line.split(None, 3)
        if int(group) == pgid and not stat.startswith("Z"):
            members.append(f"{pid} {stat} {' '.join(args)[:120]}")
    return members


def process_tree(leader: int) -> list[int]:
    """The live processes of the leader's group and every descendant of the leader, whatever its group."""
    ps = subprocess.run(["ps", "-eo", "pid=,ppid=,pgid=,stat="], capture_output=True, text=True).stdout
    rows = [line.split() for line in ps.splitlines()]
    live = {int(pid): (int(ppid), int(pgid)) for pid, ppid, pgid, stat in rows if not stat.startswith("Z")}
    tree = {pid for pid, (_, pgid) in live.items() if pgid == leader} | ({leader} & live.keys())
    while True:
        children = {pid for pid, (ppid, _) in live.items() if ppid in tree} - tree
        if not children:
            return sorted(tree)
        tree |= children


def still_running(pids: list[int], timeout: float = 5) -> list[int]:
    """Those of `pids` still running (not zombies) after up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        ps = subprocess.run(["ps", "-eo", "pid=,stat="], capture_output=True, text=True).stdout
        running = {int(pid) for pid, stat in (line.split() for line in ps.splitlines()) if not stat.startswith("Z")}
        left = [p for p in pids if p in running]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def _kill_pids(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _group_gone(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while group_members(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _log(message: str) -> None:
    print(f"[airflow-cluster {time.strftime('%H:%M:%S')}] {message}", flush=True)


def worker_hostname() -> str:
    """`[core] hostname_callable` of the Celery workers: the name the harness gave each one."""
    return os.environ[WORKER_HOSTNAME_ENV]

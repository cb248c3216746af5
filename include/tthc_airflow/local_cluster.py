"""A local Airflow 3 deployment: dag-processor, scheduler, api-server (and triggerer, and Celery
workers) over one AIRFLOW_HOME.

What `make demo`, `make airflow-ui` / `make airflow-stop` and the real-scheduler and Celery tests all start:

    with local_airflow(home, metadata_db_url, env={"TTHC_...": ...}) as af:
        af.api("POST", "/api/v2/backfills", json={...})

    tthc-airflow up [--port 8080]   # foreground; Ctrl-C, SIGTERM or SIGHUP ends every process it started
    tthc-airflow stop               # ends the components recorded in the home

- AIRFLOW_HOME holds its own airflow.cfg (LocalExecutor, the given metadata database, small
  parallelism, times in Asia/Ho_Chi_Minh, every user an admin so the REST API and the UI need no
  login: the API server listens on 127.0.0.1 only; task processes forked with the heavy libraries
  already imported, see TASK_PRELOAD). An existing airflow.cfg is kept unless
  `fresh_config`. Inherited AIRFLOW__* variables are dropped: the components read only that file
  and `env`, plus the port given at start (so the home keeps working whatever port a run used).
- `celery_workers=N`: the CeleryExecutor and N `airflow celery worker` processes, each with a hostname
  of its own (`tthc-worker-1`, ...: what task instances record), as separate containers have; the
  broker and the other Celery settings come from `env`.
- `airflow db migrate`, then each component in its own session (`setsid`), logs in AIRFLOW_HOME;
  their process ids go to AIRFLOW_HOME/local_cluster.json for `stop`.
- Ready when /api/v2/monitor/health reports every started component healthy and each Celery worker
  has logged that it is ready. `ensure_pool()` makes the pool `tthc_portal` (TTHC_PORTAL_POOL_SLOTS
  slots, default 4, as in docker-compose).
- On exit each component's process group gets SIGTERM, then SIGKILL after a timeout; no process of
  its session may remain (checked: task processes sit in groups of their own inside it).
  `kill(name)` SIGKILLs one component's whole session at once, as a lost machine. `log_tails()` gives
  the end of each component's log.

No Airflow import here: the components and the `airflow` commands run in their own processes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from configparser import ConfigParser
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx

ROOT = Path(__file__).resolve().parents[2]
LOCAL_TZ = "Asia/Ho_Chi_Minh"
CORE_COMPONENTS = ("dag-processor", "scheduler", "api-server")
ALL_COMPONENTS = (*CORE_COMPONENTS, "triggerer")
# No new task first; the API server serves running tasks (Celery workers' too) to the end.
STOP_ORDER = ("scheduler", "triggerer", "worker", "dag-processor", "api-server")
HEALTH_KEYS = {"scheduler": "scheduler", "dag-processor": "dag_processor", "triggerer": "triggerer"}
PORTAL_POOL = "tthc_portal"
STATE_FILE = "local_cluster.json"
DEFAULT_PORT = 8080
# Each Celery worker's hostname (worker_hostname, the workers' [core] hostname_callable).
WORKER_HOSTNAME_ENV = "AIRFLOW_CLUSTER_WORKER_HOSTNAME"
# The LocalExecutor's workers start from a forkserver that loaded these once, and every task process
# forked from a worker inherits them (Airflow 3.3's [core] mp_forkserver_preload): Airflow's own task
# machinery, then the pipeline's (tthc_airflow.preload: the libraries, holidays, plugins).
TASK_PRELOAD = ("airflow.executors.local_executor", "airflow.sdk.execution_time.supervisor",
                "airflow.sdk.execution_time.task_runner", "airflow.dag_processing.dagbag",
                "airflow.dag_processing.bundles.manager", "airflow.providers.standard.sensors.python",
                "airflow.providers.standard.operators.trigger_dagrun",
                # what each task's parse of its DAG file imports (`from airflow.sdk import dag, task`),
                # and the templates' jinja2 extensions
                "airflow.sdk.definitions.decorators", "airflow.providers.standard.decorators.sensor", "jinja2.ext",
                "tthc_airflow.preload")


# SQLite metadata DB: a writer waits this long for another's lock instead of Python's 5 s (the
# scheduler, the API server and the task processes all write). Named in airflow.cfg by import path.
SQLITE_CONNECT_ARGS = {"timeout": 60}


class ClusterError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _cfg(sections: dict[str, dict[str, object]]) -> str:
    out = []
    for section, values in sections.items():
        out.append(f"[{section}]")
        out += [f"{k} = {v}" for k, v in values.items()]
        out.append("")
    return "\n".join(out)


def default_metadata_url(home: Path) -> str:
    return f"sqlite:///{Path(home).resolve() / 'airflow.db'}"


def write_config(home: Path, metadata_db_url: str, *, parallelism: int = 4, executor: str = "LocalExecutor",
                 config: dict[str, dict] | None = None) -> Path:
    """airflow.cfg for a local deployment in `home` (overwritten)."""
    home = Path(home)
    sections = {
        "core": {
            "dags_folder": ROOT / "dags",
            "plugins_folder": ROOT / "plugins",
            "load_examples": "False",
            "unit_test_mode": "False",
            "executor": executor,
            "parallelism": parallelism,
            # Naive dates (e.g. `airflow backfill create --from-date 2024-12-15`) are local, as the periods.
            "default_timezone": LOCAL_TZ,
            "simple_auth_manager_all_admins": "True",
            "fernet_key": _fernet_key(),
            "dags_are_paused_at_creation": "True",
        },
        "database": {"sql_alchemy_conn": metadata_db_url},
        "logging": {"base_log_folder": home / "logs", "logging_level": "INFO"},
        "api": {"host": "127.0.0.1", "port": DEFAULT_PORT, "workers": 1, "secret_key": secrets.token_hex(16)},
        "api_auth": {"jwt_secret": secrets.token_hex(32)},
        "dag_processor": {"parsing_processes": 1},
    }
    if executor == "LocalExecutor":  # Celery workers preload through tthc_airflow.celery_worker
        sections["core"]["mp_forkserver_preload"] = ",".join(TASK_PRELOAD)
        sections["scheduler"] = {"mp_start_method": "forkserver"}
    if metadata_db_url.startswith("sqlite"):
        sections["database"]["sql_alchemy_connect_args"] = f"{__name__}.SQLITE_CONNECT_ARGS"
    for section, values in (config or {}).items():
        sections.setdefault(section, {}).update(values)
    home.mkdir(parents=True, exist_ok=True)
    path = home / "airflow.cfg"
    path.write_text(_cfg(sections), encoding="utf-8")
    return path


class AirflowCluster:
    def __init__(self, home: Path, metadata_db_url: str | None = None, *, env: dict[str, str] | None = None,
                 parallelism: int = 4, port: int | None = None, config: dict[str, dict] | None = None,
                 components: tuple[str, ...] = CORE_COMPONENTS, celery_workers: int = 0,
                 worker_concurrency: int = 2, fresh_config: bool = True):
        self.home = Path(home).resolve()
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        unknown = set(components) - set(ALL_COMPONENTS)
        if unknown:
            raise ClusterError(f"unknown component(s) {sorted(unknown)}: of {ALL_COMPONENTS}")
        # name → (`airflow` arguments, extra environment)
        self.components: dict[str, tuple[list[str], dict[str, str]]] = {name: ([name], {}) for name in components}
        if "api-server" in self.components:
            self.components["api-server"] = (["api-server", "--port", str(self.port)], {})
        self.worker_hostnames: dict[str, str] = {}
        for i in range(1, celery_workers + 1):
            name, hostname = f"worker-{i}", f"tthc-worker-{i}"
            self.worker_hostnames[name] = hostname
            # No log server: every worker writes to this home's log folder, which the api-server reads
            # directly (separate hosts would serve their logs on port 8793).
            self.components[name] = (
                ["celery", "worker", "--celery-hostname", f"{hostname}@%h", "--concurrency", str(worker_concurrency),
                 "--skip-serve-logs"],
                {WORKER_HOSTNAME_ENV: hostname, "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{__name__}.worker_hostname"})
        self.procs: dict[str, subprocess.Popen] = {}
        self.ready_after: float | None = None
        cfg = self.home / "airflow.cfg"
        if fresh_config or not cfg.exists():
            write_config(self.home, metadata_db_url or default_metadata_url(self.home), parallelism=parallelism,
                         executor="CeleryExecutor" if celery_workers else "LocalExecutor", config=config)
        elif config or metadata_db_url:
            raise ClusterError(f"{cfg} exists: give fresh_config=True to replace it")
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_"))}
        self.env = {**base, **(env or {}), "AIRFLOW_HOME": str(self.home), "AIRFLOW_CONFIG": str(cfg),
                    "PYTHONUNBUFFERED": "1",
                    # The port of this start (also on the api-server's command line), whatever the file says.
                    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/"}

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
        return r.json() if r.content else {}

    def health(self) -> dict | None:
        try:
            r = httpx.get(f"{self.base_url}/api/v2/monitor/health", timeout=5)
            return r.json() if r.status_code == 200 else None
        except httpx.HTTPError:
            return None

    def ensure_pool(self, name: str = PORTAL_POOL, slots: int | None = None, description: str = "") -> dict:
        """The pool with `slots` slots (default TTHC_PORTAL_POOL_SLOTS or 4), created or resized."""
        slots = slots if slots is not None else int(self.env.get("TTHC_PORTAL_POOL_SLOTS") or 4)
        pool = {"name": name, "slots": slots, "description": description, "include_deferred": False}
        r = httpx.get(f"{self.base_url}/api/v2/pools/{name}", timeout=30)
        if r.status_code == 404:
            return self.api("POST", "/api/v2/pools", json=pool)
        if r.status_code >= 400:
            raise ClusterError(f"GET /api/v2/pools/{name}: {r.status_code} {r.text[:300]}")
        return self.api("PATCH", f"/api/v2/pools/{name}", json=pool)

    def wait_for_dags(self, dag_ids: list[str], timeout: float = 120) -> None:
        """Until the dag-processor has serialised every DAG in dag_ids; an import error fails at once."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            errors = self.api("GET", "/api/v2/importErrors")
            if errors["total_entries"]:
                raise ClusterError("DAG import errors: " + "; ".join(
                    f"{e['filename']}: {e['stack_trace'].strip().splitlines()[-1]}" for e in errors["import_errors"]))
            known = {d["dag_id"] for d in self.api("GET", "/api/v2/dags", params={"limit": 100})["dags"]}
            if set(dag_ids) <= known:
                return
            if time.monotonic() > deadline:
                raise ClusterError(f"DAGs not parsed after {timeout} s: {sorted(set(dag_ids) - known)}")
            time.sleep(0.5)

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": paused})

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self, *, timeout: float = 120) -> None:
        t0 = time.monotonic()
        self.airflow("db", "migrate", timeout=timeout)
        _log(f"airflow db migrate: {time.monotonic() - t0:.1f} s")
        for name in self.components:
            self.start_component(name)
        self._write_state()
        t1 = time.monotonic()
        self.wait_healthy(timeout=timeout)
        self.ready_after = time.monotonic() - t1
        _log(f"{' + '.join(self.components)} healthy {self.ready_after:.1f} s after start "
             f"(api on port {self.port})")

    def start_component(self, name: str, extra_env: dict[str, str] | None = None) -> None:
        if name not in self.components:
            raise ClusterError(f"unknown component {name!r}: one of {list(self.components)}")
        args, component_env = self.components[name]
        log = open(self.home / f"{name}.log", "ab")
        # start_new_session: setsid, so the component and every process it forks form one session.
        self.procs[name] = subprocess.Popen([sys.executable, "-m", "airflow", *args],
                                            env={**self.env, **component_env, **(extra_env or {})}, cwd=self.home,
                                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        log.close()

    def restart_component(self, name: str, extra_env: dict[str, str] | None = None, *,
                          timeout: float = 120) -> None:
        """Stop one component and start it again (e.g. the scheduler with another setting)."""
        self._stop_one(name, timeout=30)
        self.start_component(name, extra_env)
        self._write_state()
        self.wait_healthy(timeout=timeout)

    def wait_healthy(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        wanted = ["metadatabase", *(HEALTH_KEYS[n] for n in self.procs if n in HEALTH_KEYS)]
        workers = [n for n in self.worker_hostnames if n in self.procs]
        while True:
            self.check_alive()
            health = self.health()
            if (health and all((health.get(k) or {}).get("status") == "healthy" for k in wanted)
                    and all(self.worker_ready(n) for n in workers)):
                return
            if time.monotonic() > deadline:
                raise ClusterError(f"not healthy after {timeout} s: {health}; workers ready: "
                                   f"{ {n: self.worker_ready(n) for n in workers} }")
            time.sleep(0.5)

    def worker_ready(self, name: str) -> bool:
        """Celery logs `celery@<hostname> ready.` once the worker consumes its queues."""
        log = self.home / f"{name}.log"
        pattern = rf"\b{re.escape(self.worker_hostnames[name])}@\S+ ready\."
        return log.exists() and re.search(pattern, log.read_text(encoding="utf-8", errors="replace")) is not None

    def check_alive(self) -> None:
        dead = {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}
        if dead:
            raise ClusterError(f"component(s) exited: {dead}\n{self.log_tails(15)}")

    def stop(self, *, timeout: float = 30, idle: bool = False) -> dict[str, str]:
        """SIGTERM each component's process group, SIGKILL what remains after `timeout`. In STOP_ORDER,
        or all at once when the caller knows no task runs (`idle`: none needs the API server meanwhile)."""
        names = stop_order(self.procs)
        if idle:  # and what outlives a component has no task to finish: 1 s, not 5, before SIGKILL
            with ThreadPoolExecutor(len(names) or 1) as pool:
                outcome = dict(zip(names, pool.map(lambda name: self._stop_one(name, timeout, 1), names)))
        else:
            outcome = {name: self._stop_one(name, timeout) for name in names}
        (self.home / STATE_FILE).unlink(missing_ok=True)
        return outcome

    def kill(self, name: str) -> list[int]:
        """SIGKILL one component's whole session at once (it, its pool and its task processes), as when
        its machine or container is lost; it is neither checked nor stopped any more. Returns the pids killed."""
        proc = self.procs.pop(name)
        killed = kill_session(proc.pid)
        proc.wait(timeout=10)
        self._write_state()
        return killed

    def _stop_one(self, name: str, timeout: float, leftover_timeout: float = 5) -> str:
        proc = self.procs.pop(name)
        t0 = time.monotonic()
        how = stop_group(proc.pid, timeout=timeout, wait=proc.wait, leftover_timeout=leftover_timeout)
        return f"{how}, {time.monotonic() - t0:.1f} s"

    def _write_state(self) -> None:
        state = {"port": self.port, "components": {n: p.pid for n, p in self.procs.items()}}
        (self.home / STATE_FILE).write_text(json.dumps(state), encoding="utf-8")

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
def airflow_cluster(home: Path, metadata_db_url: str | None = None, *, start_timeout: float = 120,
                    stop_timeout: float = 30, **kwargs) -> Iterator[AirflowCluster]:
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


local_airflow = airflow_cluster


def worker_hostname() -> str:
    """`[core] hostname_callable` of the Celery workers: the name the cluster gave each one."""
    return os.environ[WORKER_HOSTNAME_ENV]


# --- processes ----------------------------------------------------------------------------------


def stop_order(names) -> list[str]:
    """`names` in STOP_ORDER (Celery workers, `worker-N`, where "worker" is)."""
    return sorted(names, key=lambda name: STOP_ORDER.index(name.split("-")[0] if name.startswith("worker-") else name))


def stop_group(sid: int, *, timeout: float = 30, wait=None, leftover_timeout: float = 5) -> str:
    """SIGTERM the component whose session leader is `sid` (its process group; task processes form
    groups of their own inside the session), SIGKILL it after `timeout`, then SIGKILL any process of
    the session still there `leftover_timeout` s later; returns how it ended. Raises when a process
    survives SIGKILL."""
    _signal_group(sid, signal.SIGTERM)
    how = "SIGTERM"
    if not _leader_gone(sid, timeout, wait):
        how = "SIGKILL (ignored SIGTERM)"
        _signal_group(sid, signal.SIGKILL)
        _leader_gone(sid, 10, wait)
    # The leader is gone; its children (executor workers, task and parsing processes) too? Airflow
    # 3.3's LocalExecutor workers and their forkserver often outlive the scheduler, SIGTERM or not.
    if not _wait_for(lambda: not _session(sid), timeout=leftover_timeout):
        leftovers = sorted({" ".join(line.split()[2:4])[:60] for line in group_members(sid)})
        how += f" + SIGKILL to leftover processes ({'; '.join(leftovers)})"
        kill_session(sid, timeout=5)
    return how


def _wait_for(done, timeout: float) -> bool:
    """Poll `done()` until it holds (True) or `timeout` seconds have passed (False)."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _leader_gone(pid: int, timeout: float, wait) -> bool:
    if wait is not None:  # our own child: reap it
        try:
            wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False
    return _wait_for(lambda: not process_alive(pid), timeout)


def kill_session(sid: int, timeout: float = 10) -> list[int]:
    """SIGKILL every process of session `sid` at once, again for any forked meanwhile, until none is
    left; returns the pids killed. Raises when a process survives `timeout` seconds."""
    killed: list[int] = []
    deadline = time.monotonic() + timeout
    while pids := session_pids(sid):
        if time.monotonic() > deadline:
            raise ClusterError(f"processes of session {sid} survive SIGKILL: {group_members(sid)}")
        for pid in pids:
            _kill(pid)
        killed += [pid for pid in pids if pid not in killed]
        time.sleep(0.1)
    return killed


def process_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _session(sid: int) -> list[tuple[int, str]]:
    """Live (non-zombie) processes of session `sid` (a component and everything it started)."""
    ps = subprocess.run(["ps", "-eo", "pid=,sid=,stat=,args="], capture_output=True, text=True).stdout
    members = []
    for line in ps.splitlines():
        pid, session, stat, *args = line.split(None, 3)
        if int(session) == sid and not stat.startswith("Z"):
            members.append((int(pid), f"{pid} {stat} {' '.join(args)[:120]}"))
    return members


def session_pids(sid: int) -> list[int]:
    return [pid for pid, _ in _session(sid)]


def group_members(sid: int) -> list[str]:
    """Live processes of a component's session, as 'pid state command' lines (empty once stopped)."""
    return [line for _, line in _session(sid)]


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _log(message: str) -> None:
    print(f"[airflow {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- command line: make airflow-ui / make airflow-stop --------------------------------------------


def _home_from_env() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME") or ROOT / ".airflow").resolve()


def stop_recorded(home: Path, timeout: float = 30) -> dict[str, str]:
    """Stop the components a `up` (or the demo) recorded in home/local_cluster.json, if still ours:
    each pid must still lead its own session and run `airflow <component>`."""
    state_file = home / STATE_FILE
    if not state_file.exists():
        return {}
    state = json.loads(state_file.read_text(encoding="utf-8"))
    outcome = {}
    for name in stop_order(state["components"]):
        pid = state["components"][name]
        try:
            # Components rename themselves ("airflow api_server -- host:…"): match loosely.
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            ours = os.getsid(pid) == pid and "airflow" in cmdline and name.split("-")[0] in cmdline
        except (OSError, ProcessLookupError):
            ours = False
        outcome[name] = stop_group(pid, timeout=timeout) if ours else "not running"
    state_file.unlink(missing_ok=True)
    return outcome


def _serve(args) -> int:
    home = _home_from_env()
    if (home / STATE_FILE).exists() and any(v != "not running" for v in stop_recorded(home).values()):
        _log(f"stopped the components left running in {home}")
    if not port_free(args.port):
        print(f"port {args.port} is in use: give another with PORT=… (make) or --port", file=sys.stderr)
        return 2
    cluster = AirflowCluster(home, port=args.port, components=ALL_COMPONENTS, fresh_config=False)
    stopping = {"signal": None}

    def _on_signal(signum, _frame):
        stopping["signal"] = signum

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    try:
        cluster.start()
        cluster.ensure_pool(description="Portal fetches running at once (one mapped task per unit)")
        _log(f"Airflow UI: {cluster.base_url}  (AIRFLOW_HOME {home}; Ctrl-C stops every component)")
        while stopping["signal"] is None:
            cluster.check_alive()
            time.sleep(1)
        return 0
    except ClusterError as exc:
        print(f"airflow: {exc}", file=sys.stderr)
        return 1
    finally:
        _log(f"stopping: {cluster.stop()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tthc-airflow",
                                     description="A local Airflow (scheduler, dag-processor, api-server, triggerer) "
                                                 "over $AIRFLOW_HOME (default .airflow)")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start every component in the foreground; Ctrl-C stops them all")
    up.add_argument("--port", type=int, default=DEFAULT_PORT)
    sub.add_parser("stop", help="stop the components started by `up` or the demo in $AIRFLOW_HOME")
    args = parser.parse_args(argv)
    if args.command == "up":
        return _serve(args)
    outcome = stop_recorded(_home_from_env())
    print(f"stopped: {outcome}" if outcome else "nothing running")
    return 0


if __name__ == "__main__":
    sys.exit(main())

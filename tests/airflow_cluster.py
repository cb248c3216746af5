"""A real, throw-away Airflow 3 deployment for tests: scheduler + dag-processor + api-server.

    with airflow_cluster(tmp_path / "airflow", metadata_db_url, env={"TTHC_...": ...}) as cluster:
        cluster.airflow("dags", "unpause", "my_dag")
        cluster.api("GET", "/api/v2/dags/my_dag/dagRuns")

- A temporary AIRFLOW_HOME with its own airflow.cfg (LocalExecutor, the given metadata database,
  small parallelism, a free random port, every user an admin so the REST API needs no token).
  Inherited AIRFLOW__* variables are dropped: the components read only that file.
- `airflow db migrate`, then each component in its own session (`setsid`), logs in AIRFLOW_HOME.
- Ready when /api/v2/monitor/health reports the metadata DB, scheduler and dag-processor healthy.
- On exit each component's process group gets SIGTERM, then SIGKILL after a timeout; no process of
  any group may remain (checked). `cluster.log_tails()` gives the end of each component's log.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx

ROOT = Path(__file__).resolve().parents[1]
COMPONENTS = ("dag-processor", "scheduler", "api-server")
STOP_ORDER = ("scheduler", "dag-processor", "api-server")  # no new task first; the API serves tasks to the end


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
                 parallelism: int = 4, port: int | None = None, config: dict[str, dict] | None = None):
        self.home = Path(home)
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.procs: dict[str, subprocess.Popen] = {}
        self.started_at: dict[str, float] = {}
        self.ready_after: float | None = None
        sections = {
            "core": {
                "dags_folder": ROOT / "dags",
                "plugins_folder": ROOT / "plugins",
                "load_examples": "False",
                "unit_test_mode": "False",
                "executor": "LocalExecutor",
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
        for name in COMPONENTS:
            log = open(self.home / f"{name}.log", "ab")
            # start_new_session: setsid, so the component and every process it forks form one group.
            self.procs[name] = subprocess.Popen([sys.executable, "-m", "airflow", name], env=self.env,
                                                cwd=self.home, stdout=log, stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL, start_new_session=True)
            log.close()
            self.started_at[name] = time.monotonic()
        t1 = time.monotonic()
        deadline = t1 + timeout
        wanted = ("metadatabase", "scheduler", "dag_processor")
        while True:
            self.check_alive()
            health = self.health()
            if health and all((health.get(k) or {}).get("status") == "healthy" for k in wanted):
                break
            if time.monotonic() > deadline:
                raise ClusterError(f"not healthy after {timeout} s: {health}")
            time.sleep(0.5)
        self.ready_after = time.monotonic() - t1
        _log(f"scheduler + dag-processor + api-server healthy {self.ready_after:.1f} s after start "
             f"(api on port {self.port})")

    def check_alive(self) -> None:
        dead = {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}
        if dead:
            raise ClusterError(f"component(s) exited: {dead}")

    def stop(self, *, timeout: float = 30) -> dict[str, str]:
        """SIGTERM each component's process group, SIGKILL what remains after `timeout`."""
        outcome = {}
        for name in STOP_ORDER:
            proc = self.procs.get(name)
            if proc is None:
                continue
            t0 = time.monotonic()
            pgid = proc.pid  # the leader of its own session and group
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
            outcome[name] = f"{how}, {time.monotonic() - t0:.1f} s"
        return outcome

    def pgids(self) -> list[int]:
        return [p.pid for p in self.procs.values()]

    def log_tails(self, lines: int = 40) -> str:
        out = []
        for name in COMPONENTS:
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

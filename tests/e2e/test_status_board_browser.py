"""The status board end to end: a real `airflow api-server` with the plugin, headless Chromium.

Logs in through SimpleAuthManager's own login page (the board redirects there), reads the board,
follows the period's DAG-run link, downloads a report with the browser's session, opens the
board from the Airflow UI's navigation entry, and saves docs/img/status-board.png.

Needs Debian's `chromium` (apt-get install -y chromium) and Python `playwright` (driving that
Chromium; no `playwright install`). Skips without them, fails instead when CI is set.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.support import ROOT, missing
from tests.support.board import SCRIPT, build_board_warehouse

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
SCREENSHOT = ROOT / "docs" / "img" / "status-board.png"
DAG_ID = "tthc_monthly_shared_drive"
USER = "can-bo"
# A backfill of the run whose logical date is 2025-03's first instant (15/02 local) creates the run
# whose data interval is 2025-03. (A manual trigger's interval is the last period before *now*,
# whatever --logical-date says: it is created too, as a run the board must not pick.)
PERIOD_START = "2025-02-15T00:00:00+07:00"

pytestmark = pytest.mark.airflow


def chromium_path() -> str:
    path = os.environ.get("TTHC_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        missing("Chromium not found: install the Debian package `chromium` (apt-get install -y chromium)")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ApiServer:
    """`airflow api-server` in a temporary AIRFLOW_HOME (SQLite metadata DB), in its own session
    so the whole process group can be ended."""

    def __init__(self, home: Path, tthc_env: dict[str, str]):
        self.home = home
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.password = secrets.token_urlsafe(12)
        self.proc: subprocess.Popen | None = None
        home.mkdir(parents=True)
        # SimpleAuthManager reads users from the config and their passwords from this file; a user
        # already in it gets no generated password.
        (home / "simple_auth_manager_passwords.json.generated").write_text(json.dumps({USER: self.password}))
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__", "TTHC_"))}
        self.env = {
            **inherited, **tthc_env,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__AUTH_MANAGER":
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:viewer",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "PYTHONUNBUFFERED": "1",
        }

    def airflow(self, *args: str, timeout: float = 180) -> str:
        done = subprocess.run([sys.executable, "-m", "airflow", *args], env=self.env, cwd=self.home,
                              capture_output=True, text=True, timeout=timeout, start_new_session=True)
        assert done.returncode == 0, f"airflow {' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    def start(self, timeout: float = 120) -> None:
        log = open(self.home / "api-server.log", "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "airflow", "api-server", "--port", str(self.port),
                                      "--host", "127.0.0.1"], env=self.env, cwd=self.home, stdout=log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, f"api-server exited {self.proc.returncode}:\n{self.log_tail()}"
            try:
                if httpx.get(f"{self.base}/api/v2/monitor/health", timeout=3).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"api-server not up after {timeout} s:\n{self.log_tail()}"
            time.sleep(0.5)

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM to the server's process group, SIGKILL to what is left after `timeout`."""
        if self.proc is None:
            return
        pgid = self.proc.pid  # leader of its own session and group (start_new_session)
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
            if not _group_alive(pgid, wait=3):
                break
        if _group_alive(pgid, wait=0):
            os.killpg(pgid, signal.SIGKILL)

    def log_tail(self, lines: int = 60) -> str:
        path = self.home / "api-server.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def _group_alive(pgid: int, wait: float) -> bool:
    end = time.monotonic() + wait
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        if time.monotonic() >= end:
            return True
        time.sleep(0.2)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    t0 = time.monotonic()
    root = tmp_path_factory.mktemp("board-e2e")
    share = root / "share"
    share.mkdir()
    tthc_env = {"TTHC_DATA_DIR": str(root / "data"), "TTHC_SHARED_DRIVE": str(share)}
    from tthc.settings import Settings

    settings = Settings.from_env(tthc_env)
    build_board_warehouse(share, settings)
    srv = ApiServer(root / "airflow", tthc_env)
    try:
        srv.airflow("db", "migrate")
        srv.airflow("dags", "reserialize")  # the DAG in the metadata DB, so a run can be created
        srv.airflow("dags", "trigger", DAG_ID)
        srv.airflow("backfill", "create", "--dag-id", DAG_ID, "--from-date", PERIOD_START, "--to-date", PERIOD_START)
        srv.start()
        srv.settings = settings
        srv.setup_seconds = time.monotonic() - t0
        yield srv
    finally:
        srv.stop()
        if srv.proc is not None:
            assert not _group_alive(srv.proc.pid, wait=2), "api-server processes survive"


@pytest.fixture(scope="module")
def browser():
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("Python package `playwright` is not installed (pip install playwright==1.65.2)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield b
        finally:
            b.close()


def test_board_without_a_session_is_refused(server):
    for path in ("/tthc/", "/tthc/?period=2025-03", "/tthc/reports/2025-03/BaoCao_TTHC_2025-03.docx"):
        r = httpx.get(server.base + path, timeout=10)
        assert r.status_code == 401, path
        assert "X-19363" not in r.text
    r = httpx.get(f"{server.base}/tthc/?period=2025-03", headers={"accept": "text/html"}, timeout=10)
    assert r.status_code == 303 and r.headers["location"].startswith("/auth/login?next=")
    r = httpx.get(f"{server.base}/tthc/", cookies={"_token": "forged"}, timeout=10)
    assert r.status_code in (401, 403)


def test_log_in_and_read_the_board(browser, server):  # browser first: skips before the server starts
    context = browser.new_context(viewport={"width": 1500, "height": 1000}, locale="vi-VN")
    context.set_default_timeout(30_000)
    page = context.new_page()
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    try:
        # The board sends the browser to Airflow's login page, which brings it back afterwards.
        page.goto(f"{server.base}/tthc/?period=2025-03")
        page.wait_for_url("**/auth/login**")
        page.fill("input[name=username]", USER)
        page.fill("input[name=password]", server.password)
        page.click("button[type=submit]")
        page.wait_for_url("**/tthc/?period=2025-03")
        assert any(c["name"] == "_token" for c in context.cookies())

        assert page.title() == "Bảng trạng thái TTHC — kỳ 2025-03"
        assert page.inner_text("header").count(f"Người dùng: {USER}") == 1

        def status_of(unit: str) -> list[str]:
            return [c.strip() for c in page.locator(f"#status tr[data-unit='{unit}'] td").all_inner_texts()]

        assert status_of("X-19363")[2:5] == ["đúng hạn", "09:00 12/03/2025", "2025-03/X-19363.csv"]
        assert status_of("X-19366")[2] == "muộn"
        assert status_of("VL-TP")[2] == "bị từ chối" and "tử số 130 lớn hơn mẫu số 120" in status_of("VL-TP")[6]
        assert SCRIPT in status_of("VL-YT")[6]  # shown as text ...
        assert page.locator("#status script").count() == 0  # ... never run as markup
        assert status_of("VL-GDDT")[2] == "chưa gửi"
        assert page.locator("#status tr[data-status=missing]").count() == 25
        heat = page.locator("#heatmap tr[data-unit='X-19363'] td")
        texts = [t.strip() for t in heat.all_inner_texts()]
        assert "75,0%" in texts and "không phát sinh" in texts

        # The period's DAG run: the one whose data interval is 2025-03, as the REST API (with the
        # browser's session) tells, not the newer manual run.
        runs = page.request.get(f"{server.base}/api/v2/dags/{DAG_ID}/dagRuns").json()["dag_runs"]
        assert len(runs) == 2
        (march,) = [r for r in runs if (r["data_interval_start"] or "").startswith("2025-02-14T17:00:00")]
        assert march["data_interval_end"].startswith("2025-03-14T17:00:00")
        run_link = page.locator("#dag-run")
        href = run_link.get_attribute("href")
        assert run_link.locator("code").inner_text() == march["dag_run_id"]
        assert href == f"/dags/{DAG_ID}/runs/{quote(march['dag_run_id'], safe='')}"

        # A report, downloaded with the browser's session.
        report_href = page.locator("a.report", has_text="BaoCao_TTHC_2025-03.docx").get_attribute("href")
        assert report_href == "/tthc/reports/2025-03/BaoCao_TTHC_2025-03.docx"
        r = page.request.get(server.base + report_href)
        path = server.settings.reports_dir / "2025-03" / "BaoCao_TTHC_2025-03.docx"
        assert r.status == 200 and r.body() == path.read_bytes()
        r = page.request.get(f"{server.base}/tthc/reports/..%2F..%2Fwarehouse.sqlite")
        assert r.status == 404

        # The period selector.
        page.select_option("#period", "2025-04")
        page.wait_for_url("**/tthc/?period=2025-04")
        assert "kỳ 2025-04" in page.title()
        page.select_option("#period", "2025-03")
        page.wait_for_url("**/tthc/?period=2025-03")
        # The selector's handler is the one script the board's CSP allows; nothing was refused.
        assert not [e for e in console_errors if "Content Security Policy" in e], console_errors

        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)

        # The run link opens the run in the Airflow UI.
        page.goto(server.base + href)
        page.wait_for_load_state("networkidle")
        page.get_by_text(march["dag_run_id"]).first.wait_for()

        # The navigation entry: the UI shows the board in its page /plugin/tthc-status-board.
        page.goto(f"{server.base}/plugin/tthc-status-board")
        frame = page.frame_locator("iframe")
        frame.locator("#status").wait_for()
        assert frame.locator("h1").inner_text() == "Bảng trạng thái TTHC — kỳ 2025-04"  # the newest
    except Exception:
        failure = server.home / "failure.png"
        page.screenshot(path=str(failure), full_page=True)
        print(f"screenshot of the failure: {failure}\nURL: {page.url}\n{server.log_tail()}")
        raise
    finally:
        context.close()

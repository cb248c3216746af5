"""plugins/tthc_status_board.py: the status board app, over a small warehouse built by the pipeline.

The app is driven directly with FastAPI's TestClient. Only `test_board_content` and the download
tests replace Airflow's auth dependency (`board_reader()`, i.e. requires_access_dag); the refusal
tests run the real one (get_user → JWT from the Bearer header or the `_token` cookie).
"""

from __future__ import annotations

import json
from datetime import datetime
from html import unescape
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest

import airflow  # noqa: F401  - puts the plugins folder (set in conftest) on sys.path
import tthc_status_board as board
from tests.support.board import MAR, SCRIPT, build_board_warehouse
from tests.support.drive import write_csv
from tthc import orchestration
from tthc.catalogue import Catalogue
from tthc.periods import LOCAL_TZ, Period
from tthc.settings import DEFAULT_CATALOGUE_DIR

RUN_ID = "scheduled__2025-03__2025-03-14T17:00:00+00:00"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """One warehouse for the module; TTHC_* point at it while the module's tests run."""
    root = tmp_path_factory.mktemp("board")
    (root / "share").mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TTHC_DATA_DIR", str(root / "data"))
        mp.setenv("TTHC_SHARED_DRIVE", str(root / "share"))
        from tthc.settings import Settings

        settings = Settings.from_env()
        build_board_warehouse(settings.shared_drive, settings)
        yield settings


class FakeUser:
    def get_name(self) -> str:
        return "can-bo-tong-hop"


@pytest.fixture
def client(warehouse):
    """The app with Airflow's auth dependency replaced by a signed-in user."""
    from fastapi.testclient import TestClient

    app = board.create_app()
    app.dependency_overrides[board.board_reader()] = FakeUser
    with TestClient(app) as c:
        yield c


@pytest.fixture
def anonymous(warehouse):
    """The app exactly as the plugin mounts it: Airflow's own auth dependency."""
    from fastapi.testclient import TestClient

    with TestClient(board.create_app(), follow_redirects=False) as c:
        yield c


class Tables(HTMLParser):
    """Rows of the page's tables by table id: [{"attrs": {...}, "cells": [(text, attrs), ...]}]."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[dict]] = {}
        self.links: dict[str, str] = {}
        self.targets: dict[str, str | None] = {}  # link text → its target attribute
        self._table = self._row = self._cell = self._a = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(attrs.get("id", ""), [])
        elif tag == "tr" and self._table is not None:
            self._row = {"attrs": attrs, "cells": []}
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ["", attrs]
            self._row["cells"].append(self._cell)
        elif tag == "li" and self._cell is not None and self._cell[0]:
            self._cell[0] += "\n"
        elif tag == "a":
            self._a = [attrs.get("href"), "", attrs.get("target")]

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag == "tr":
            self._row = None
        elif tag in ("td", "th"):
            self._cell = None
        elif tag == "a" and self._a:
            self.links[self._a[1].strip()] = self._a[0]
            self.targets[self._a[1].strip()] = self._a[2]
            self._a = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[0] += data
        if self._a is not None:
            self._a[1] += data

    def rows(self, table: str) -> dict[str, list[tuple[str, dict]]]:
        return {r["attrs"].get("data-unit"): [(" ".join(t.split()) if "\n" not in t else t.strip(), a)
                                               for t, a in r["cells"]]
                for r in self.tables[table] if "data-unit" in r["attrs"]}


def test_board_content(client, monkeypatch):
    asked = []

    def fake_run(start, end):
        asked.append((start, end))
        return {"run_id": RUN_ID, "state": "success", "run_type": "scheduled"}

    monkeypatch.setattr(board, "find_dag_run", fake_run)
    monkeypatch.setattr(board, "find_marts_run", lambda period: None)  # no asset event names it
    r = client.get("/", params={"period": "2025-03"})
    assert r.status_code == 200, r.text
    html = r.text
    page = Tables(html)

    # Escaping: the reason quoting the submission's markup is text, never an element; and the CSP
    # lets no script run but the period selector's handler.
    assert SCRIPT not in html and "<script" not in html
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'self'" in csp and "script-src 'unsafe-hashes' 'sha256-" in csp
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html

    status = page.rows("status")
    columns = lambda unit: [text for text, _ in status[unit]]  # noqa: E731
    # unit, name, status, received, file, versions, reasons
    assert columns("X-19363")[2:6] == ["đúng hạn", "09:00 12/03/2025", "2025-03/X-19363.csv", "1"]
    assert columns("X-19366")[2:6] == ["muộn", "08:00 20/03/2025", "xa/ben quan.csv", "1"]
    assert columns("VL-NV")[2:6] == ["đúng hạn", "08:00 11/03/2025", "2025-03/VL-NV-sua.csv", "2"]
    assert columns("VL-TP")[2] == "bị từ chối" and "tử số 130 lớn hơn mẫu số 120" in columns("VL-TP")[6]
    assert columns("VL-YT")[2] == "bị từ chối" and f'"{SCRIPT}" không đọc được' in columns("VL-YT")[6]
    assert columns("VL-GDDT")[1:7] == ["Phòng Giáo dục và Đào tạo", "chưa gửi", "", "", "0", ""]
    expected = len(Catalogue.load(DEFAULT_CATALOGUE_DIR).units_in(MAR))  # the warehouse's catalogue
    assert sorted(r["attrs"]["data-status"] for r in page.tables["status"][1:]).count("missing") == expected - 5
    assert len(status) == expected  # every expected unit, once
    # Missing and rejected first, then late, then on time.
    order = [r["attrs"]["data-status"] for r in page.tables["status"][1:]]
    assert order == sorted(order, key=board.STATUS_ORDER.index)
    assert "chưa gửi: 25" in " ".join(html.replace("<b>", "").replace("</b>", "").split())
    assert "Hạn gửi báo cáo: hết ngày 19/03/2025" in html  # the reporting calendar's last day on time

    # Heat-map: columns are the period's indicators, cells the unit's rate coloured by the target.
    head = [a.get("data-indicator") for _, a in Tables(html).tables["heatmap"][0]["cells"][1:]]
    assert head[:3] == ["NQ01-1", "NQ01-2", "NQ01-3"] and "NQ02-6" in head
    heat = page.rows("heatmap")
    cell = lambda unit, code: heat[unit][1 + head.index(code)]  # noqa: E731
    css = lambda unit, code: cell(unit, code)[1]["class"].split()  # noqa: E731
    assert cell("X-19363", "NQ01-3")[0] == "75,0%" and "ok" in css("X-19363", "NQ01-3")
    assert cell("X-19363", "NQ01-1")[0] == "83,3%" and "ok" in css("X-19363", "NQ01-1")
    assert cell("X-19363", "NQ01-5")[0] == "90,0%" and "ko" in css("X-19363", "NQ01-5")  # target = 100
    assert cell("X-19363", "NQ02-5")[0] == "90,0%"  # NQ02-5 repeats NQ01-5
    assert cell("X-19363", "NQ02-6")[0] == "không phát sinh" and "nil" in css("X-19363", "NQ02-6")  # 0/0
    assert cell("X-19366", "NQ01-3")[0] == "16,7%" and "ko" in css("X-19366", "NQ01-3")  # 10/60, half up
    assert cell("VL-NV", "NQ01-3")[0] == "100,0%"  # the correction counts
    for unit in ("VL-TP", "VL-YT", "VL-GDDT"):  # rejected or missing: not reported, blank
        assert cell(unit, "NQ01-3")[0] == "" and "blank" in css(unit, "NQ01-3")
    assert "10/60" in cell("X-19366", "NQ01-3")[1]["title"]
    assert cell("", "NQ01-3")[0] == "41,2%"  # the area: (30 + 10 + 2) / (40 + 60 + 2) = 41,18 %

    # Links: the DAG run whose data interval is the period, and the period's report files.
    assert asked == [(datetime(2025, 2, 15, tzinfo=LOCAL_TZ), datetime(2025, 3, 15, tzinfo=LOCAL_TZ))]
    run_text = f"Lần chạy DAG tthc_monthly_shared_drive đã tính số liệu này: {RUN_ID}"
    assert page.links[run_text] == \
        "/dags/tthc_monthly_shared_drive/runs/scheduled__2025-03__2025-03-14T17%3A00%3A00%2B00%3A00"
    assert page.targets[run_text] == "_top" and page.targets["Mọi lần chạy"] == "_top"  # out of the iframe
    assert page.links["BaoCao_TTHC_2025-03.docx"] == "/reports/2025-03/BaoCao_TTHC_2025-03.docx"
    assert page.links["BaoCao_TTHC_2025-03.xlsx"] == "/reports/2025-03/BaoCao_TTHC_2025-03.xlsx"


def test_the_run_link_is_the_run_that_produced_the_figures(client, monkeypatch):
    """The newest tthc_marts event naming the period tells which run aggregated it (here a watcher's
    re-run, whose data interval is not the period); the interval match is only the fallback."""
    rerun = "manual__2025-03__2026-11-29T10:00:00+00:00"
    monkeypatch.setattr(board, "find_marts_run", lambda period: {"run_id": rerun, "state": "success",
                                                                  "run_type": "manual"} if period == "2025-03" else None)
    monkeypatch.setattr(board, "find_dag_run", lambda start, end: pytest.fail("the interval match was not needed"))
    page = Tables(client.get("/", params={"period": "2025-03"}).text)
    text = f"Lần chạy DAG tthc_monthly_shared_drive đã tính số liệu này: {rerun}"
    assert page.links[text] == "/dags/tthc_monthly_shared_drive/runs/manual__2025-03__2026-11-29T10%3A00%3A00%2B00%3A00"
    assert page.targets[text] == "_top"


def test_default_period_is_the_newest_and_without_a_run_links_the_runs_list(client, monkeypatch):
    monkeypatch.setattr(board, "find_dag_run", lambda start, end: None)
    monkeypatch.setattr(board, "find_marts_run", lambda period: None)
    r = client.get("/")
    assert r.status_code == 200
    assert "kỳ 2025-04" in r.text
    assert '<option value="2025-04" selected>' in r.text and '<option value="2025-03">' in r.text
    page = Tables(r.text)
    assert page.links["Các lần chạy DAG tthc_monthly_shared_drive"] == "/dags/tthc_monthly_shared_drive/runs"
    assert "chưa có tệp báo cáo của kỳ này" in r.text  # April has no report yet
    assert page.rows("status")["X-19363"][2][0] == "đúng hạn"

    def broken(start, end):
        raise RuntimeError("metadata DB down")

    monkeypatch.setattr(board, "find_dag_run", broken)  # the board still shows the warehouse
    monkeypatch.setattr(board, "find_marts_run", lambda period: broken(None, None))
    r = client.get("/", params={"period": "2025-03"})
    assert r.status_code == 200 and Tables(r.text).links["Các lần chạy DAG tthc_monthly_shared_drive"]


def test_rollup_periods_and_their_downloads(tmp_path, monkeypatch):
    """Quarters, half-years and years with roll-up figures are listed with their report files."""
    from fastapi.testclient import TestClient

    from tthc.settings import Settings

    monkeypatch.setenv("TTHC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TTHC_SHARED_DRIVE", str(tmp_path / "share"))
    settings = Settings.from_env()
    for month in ("2025-01", "2025-02", "2025-03"):
        write_csv(settings.shared_drive, f"{month}/X-19363.csv", "X-19363", month, [("NQ01-3", 30, 40)],
                  mtime=f"{month}-12 09:00")
    orchestration.ingest_shared_drive(settings)
    for period in Period.range(Period(2025, 1), MAR):
        orchestration.validate_period(settings, period)
        orchestration.load_period(settings, period)
        orchestration.aggregate_period(settings, period)
    orchestration.run_rollup(settings, "2025-Q1")
    app = board.create_app()
    app.dependency_overrides[board.board_reader()] = FakeUser
    monkeypatch.setattr(board, "find_marts_run", lambda period: None)
    monkeypatch.setattr(board, "find_dag_run", lambda start, end: None)
    client = TestClient(app)
    page = Tables(client.get("/", params={"period": "2025-02"}).text)
    (row,) = page.tables["rollups"][1:]
    assert row["attrs"]["data-period"] == "2025-Q1"
    assert " ".join(row["cells"][0][0].split()) == "2025-Q1 (quý I năm 2025)" and row["cells"][1][0] == "2025-01 – 2025-03"
    assert page.links["BaoCao_TTHC_2025-Q1.docx"] == "/reports/2025-Q1/BaoCao_TTHC_2025-Q1.docx"
    r = client.get("/reports/2025-Q1/BaoCao_TTHC_2025-Q1.xlsx")
    assert r.status_code == 200 and r.content == (settings.reports_dir / "2025-Q1" / "BaoCao_TTHC_2025-Q1.xlsx").read_bytes()
    assert client.get("/reports/2025-Q5/BaoCao_TTHC_2025-Q1.xlsx").status_code == 404


def test_unknown_or_malformed_period(client):
    r = client.get("/", params={"period": "2024-01"})
    assert r.status_code == 404 and "Không có số liệu của kỳ 2024-01" in r.text
    assert client.get("/", params={"period": "2025-3"}).status_code == 422
    assert client.get("/", params={"period": "<b>"}).status_code == 422


def test_empty_or_missing_warehouse(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    monkeypatch.setenv("TTHC_DATA_DIR", str(tmp_path / "nothing"))
    app = board.create_app()
    app.dependency_overrides[board.board_reader()] = FakeUser
    r = TestClient(app).get("/")
    assert r.status_code == 503 and "Không đọc được kho dữ liệu" in r.text
    assert not (tmp_path / "nothing" / "warehouse.sqlite").exists()  # the board never creates one


def test_the_board_reads_the_warehouse_of_the_tasks_connection_not_the_environment(warehouse, tmp_path,
                                                                                    monkeypatch):
    """The environment points at an empty data folder; the `tthc_warehouse` connection and the
    `tthc_reports_dir` variable the tasks use point at the real warehouse and reports: the board follows them."""
    from fastapi.testclient import TestClient

    monkeypatch.setattr(board, "find_dag_run", lambda start, end: None)
    monkeypatch.setenv("TTHC_DATA_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("AIRFLOW_CONN_TTHC_WAREHOUSE", json.dumps(
        {"conn_type": "generic", "extra": {"url": warehouse.warehouse_url}}))
    monkeypatch.setenv("AIRFLOW_VAR_TTHC_REPORTS_DIR", str(warehouse.reports_dir))
    app = board.create_app()
    app.dependency_overrides[board.board_reader()] = FakeUser
    client = TestClient(app)
    r = client.get("/", params={"period": "2025-03"})
    assert r.status_code == 200, r.text
    assert Tables(r.text).rows("status")["X-19363"][2][0] == "đúng hạn"
    report = "/reports/2025-03/BaoCao_TTHC_2025-03.docx"
    assert Tables(r.text).links["BaoCao_TTHC_2025-03.docx"] == report
    assert client.get(report).content == (warehouse.reports_dir / "2025-03" / "BaoCao_TTHC_2025-03.docx").read_bytes()

    # Without them, the environment's (empty) installation: no warehouse, no report.
    monkeypatch.delenv("AIRFLOW_CONN_TTHC_WAREHOUSE")
    monkeypatch.delenv("AIRFLOW_VAR_TTHC_REPORTS_DIR")
    assert client.get("/", params={"period": "2025-03"}).status_code == 503
    assert client.get(report).status_code == 404
    assert not (tmp_path / "elsewhere" / "warehouse.sqlite").exists()


@pytest.mark.postgres
def test_a_postgres_tthc_warehouse_connection_and_its_password_never_shown(pg_url, tmp_path, monkeypatch):
    """A postgres-type `tthc_warehouse` connection (host, port, login, password, schema), as a deployment
    defines it, while the environment names no warehouse."""
    from fastapi.testclient import TestClient
    from sqlalchemy.engine import make_url

    from tthc.warehouse import migrate

    migrate(pg_url)  # an empty warehouse: the schema, no period yet
    canary = "pg-canary-Pw@7f3a:9c"  # trust auth ignores it; it must never reach the page or the log
    url = make_url(pg_url)

    def connection(database: str) -> str:
        return json.dumps({"conn_type": "postgres", "host": url.host, "port": url.port, "login": url.username,
                           "password": canary, "schema": database})

    monkeypatch.setenv("TTHC_DATA_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("AIRFLOW_CONN_TTHC_WAREHOUSE", connection(url.database))
    app = board.create_app()
    app.dependency_overrides[board.board_reader()] = FakeUser
    client = TestClient(app)
    r = client.get("/")
    assert r.status_code == 200 and "Kho dữ liệu chưa có kỳ báo cáo nào đã tổng hợp." in r.text

    monkeypatch.setenv("AIRFLOW_CONN_TTHC_WAREHOUSE", connection("tthc_board_no_such_db"))
    r = client.get("/")
    assert r.status_code == 503 and 'database "tthc_board_no_such_db" does not exist' in unescape(r.text)
    assert canary not in r.text and "7f3a" not in r.text


def test_report_download(client, warehouse):
    path = warehouse.reports_dir / "2025-03" / "BaoCao_TTHC_2025-03.docx"
    r = client.get("/reports/2025-03/BaoCao_TTHC_2025-03.docx")
    assert r.status_code == 200
    assert r.content == path.read_bytes()
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.wordprocessingml")
    assert 'filename="BaoCao_TTHC_2025-03.docx"' in r.headers["content-disposition"]
    assert client.get("/reports/2025-03/BaoCao_TTHC_2025-03.xlsx").status_code == 200


def test_report_download_refuses_paths_outside_the_reports_dir(client, warehouse):
    reports = warehouse.reports_dir
    secret = reports.parent / "secret.docx"  # beside the reports folder, with an allowed suffix
    secret.write_bytes(b"SECRET-OUTSIDE")
    (reports / "2025-03" / "leak.docx").symlink_to(secret)  # a link inside, to a file outside
    (reports / "2025-03" / ".BaoCao_TTHC_2025-03.docx.123.tmp").write_bytes(b"SECRET-TEMP")
    (reports / "2025-03" / "ghi chu.txt").write_bytes(b"SECRET-TXT")
    refused = [
        "/reports/2025-03/../../secret.docx",
        "/reports/..%2Fsecret.docx",
        "/reports/2025-03/..%2F..%2Fsecret.docx",
        "/reports/%2e%2e/secret.docx",
        "/reports/2025-03/%2e%2e%2f%2e%2e%2fsecret.docx",
        "/reports/2025-03/..%5C..%5Csecret.docx",
        "/reports/%2Fetc%2Fpasswd",
        "/reports//etc/passwd",
        "/reports/2025-03/%2Fetc%2Fpasswd",
        "/reports/..%2Fwarehouse.sqlite",
        "/reports/2025-03/leak.docx",
        "/reports/2025-03/.BaoCao_TTHC_2025-03.docx.123.tmp",
        "/reports/2025-03/ghi%20chu.txt",
        "/reports/2025-03/BaoCao_TTHC_2025-03.docx%00.txt",
        "/reports/2025-03",
        "/reports/",
    ]
    for url in refused:
        r = client.get(url)
        assert r.status_code == 404, url
        assert b"SECRET" not in r.content and b"root:" not in r.content and b"SQLite" not in r.content, url
    # The same rules, without HTTP in between.
    for rel in ("../secret.docx", "2025-03/../../secret.docx", "/etc/passwd", str(secret), "2025-03/leak.docx",
                "2025-03/", "2025-03/.hidden.docx", "x/BaoCao_TTHC_2025-03.docx"):
        assert board.resolve_report(reports, rel) is None, rel
    assert board.resolve_report(reports, "2025-03/BaoCao_TTHC_2025-03.docx") == \
        (reports / "2025-03" / "BaoCao_TTHC_2025-03.docx").resolve()
    # Nor are they listed on the board.
    assert [p.name for p in board.report_files(reports, "2025-03")] == \
        ["BaoCao_TTHC_2025-03.docx", "BaoCao_TTHC_2025-03.xlsx"]


def test_every_route_refuses_without_airflow_auth(anonymous):
    # Every route of the app carries the auth dependency, also any added later.
    reader = board.board_reader()
    routes = [r for r in anonymous.app.routes if hasattr(r, "dependant")]
    assert {r.name for r in routes} == {"board", "report"}
    for route in routes:
        assert reader in [d.call for d in route.dependant.dependencies], route.path

    for url in ("/", "/?period=2025-03", "/reports/2025-03/BaoCao_TTHC_2025-03.docx"):
        r = anonymous.get(url)
        assert r.status_code == 401, url
        assert r.json() == {"detail": "Not authenticated"}
        assert "X-19363" not in r.text and b"PK" not in r.content[:2]
    # A browser asking for the page goes to the login page, which comes back here.
    r = anonymous.get("/?period=2025-03", headers={"accept": "text/html,application/xhtml+xml"})
    assert r.status_code == 303
    location = urlsplit(r.headers["location"])
    assert location.path == "/auth/login"
    assert parse_qs(location.query)["next"] == ["http://testserver/?period=2025-03"]


@pytest.fixture
def auth_manager(airflow_db):
    """Airflow's configured auth manager (SimpleAuthManager), initialised as the API server does."""
    from airflow.api_fastapi.app import create_auth_manager

    manager = create_auth_manager()
    manager.init()
    return manager


def test_real_airflow_tokens(anonymous, auth_manager):
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    viewer = auth_manager.generate_jwt(SimpleAuthManagerUser(username="can-bo", role="viewer"))
    no_role = auth_manager.generate_jwt(SimpleAuthManagerUser(username="khach", role=None))

    r = anonymous.get("/", params={"period": "2025-03"}, cookies={"_token": viewer})
    assert r.status_code == 200 and "Người dùng: can-bo" in r.text
    assert Tables(r.text).rows("status")["X-19363"][2][0] == "đúng hạn"
    r = anonymous.get("/reports/2025-03/BaoCao_TTHC_2025-03.docx", headers={"authorization": f"Bearer {viewer}"})
    assert r.status_code == 200 and r.content[:2] == b"PK"

    forged = viewer[:-4] + ("AAAA" if not viewer.endswith("AAAA") else "BBBB")
    for token in (forged, "not-a-jwt"):
        r = anonymous.get("/", cookies={"_token": token})
        assert r.status_code == 403 and "X-19363" not in r.text
    # Signed in, but not allowed to read the DAG: refused.
    r = anonymous.get("/", cookies={"_token": no_role})
    assert r.status_code == 403 and r.json() == {"detail": "Forbidden"}
    # The real login page of the auth manager.
    r = anonymous.get("/", headers={"accept": "text/html"})
    assert r.status_code == 303 and r.headers["location"].startswith("/auth/login?next=")


def test_plugin_registers_the_app_and_the_navigation_entry():
    from airflow import plugins_manager

    plugins, errors = plugins_manager._get_plugins()
    assert not {k: v for k, v in errors.items() if "tthc_status_board" in k}
    (ours,) = [p for p in plugins if p.name == "tthc_status_board"]
    (app,) = ours.fastapi_apps
    assert app["url_prefix"] == "/tthc" and callable(app["app"])
    (view,) = ours.external_views
    assert view["href"] == "/tthc/" and view["destination"] == "nav" and view["url_route"] == "tthc-status-board"
    assert (board.TEMPLATES_DIR / "board.html").is_file()


def test_the_board_reads_without_taking_the_write_lock(warehouse):
    """A load holds SQLite's write lock (BEGIN IMMEDIATE); the board's read must not wait for it."""
    import time

    from sqlalchemy import text

    from tthc.warehouse import get_engine, query

    writer = get_engine(warehouse.warehouse_url).connect()
    try:
        writer.begin()  # BEGIN IMMEDIATE: the write lock, held until the rollback
        writer.execute(text("DELETE FROM ref_period WHERE period = '2025-04'"))
        t0 = time.monotonic()
        with board.read_snapshot(warehouse.warehouse_url) as conn:
            periods = [p["period"] for p in query(conn, "queries/board_periods")]
        assert time.monotonic() - t0 < 5
        assert periods == ["2025-04", "2025-03"]  # the committed state, not the writer's
    finally:
        writer.rollback()
        writer.close()
    with board.read_snapshot(warehouse.warehouse_url) as conn:  # and the read wrote nothing
        with pytest.raises(Exception, match="readonly|read-only|query_only"):
            conn.execute(text("DELETE FROM ref_period"))

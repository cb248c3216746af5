"""Bảng trạng thái TTHC: an Airflow UI page with each unit's submission status and KPI heat-map.

A FastAPI app mounted by the API server at /tthc (plugin `fastapi_apps`), shown in the Airflow UI
under Browse → "Bảng trạng thái TTHC" (plugin `external_views`, rendered in the UI's iframe).

    GET /tthc/?period=2025-03              the board (default: the newest period in the marts)
    GET /tthc/reports/2025-03/<file>       a report file from TTHC_REPORTS_DIR/<period>/ (also 2025-Q1, 2025-H1, 2025)

Every route requires Airflow's own authentication and read access to the DAG
`tthc_monthly_shared_drive`: `requires_access_dag("GET", ...)` from
airflow.api_fastapi.core_api.security, which takes the user from `get_user` (a JWT in the
`Authorization: Bearer` header, or the `_token` cookie the Airflow UI's login sets) and asks the
configured auth manager. Plugin routes are not protected by Airflow otherwise. Without a user, an API
client gets 401; a browser asking for HTML is redirected to the auth manager's login page, which
comes back to the board afterwards.

The warehouse and the reports are found through the settings the pipeline's tasks use
(`tthc_airflow.task_settings()`: the `tthc_warehouse` connection and the `tthc_*` variables, else the
TTHC_* environment), so the board shows the warehouse the tasks write. It is read in one read-only
snapshot, never under the write lock the pipeline's loads take. The SQL lives in
include/sql/queries/board_*.sql. Pages are server-rendered Jinja2 templates from
plugins/tthc_status_board/templates/ with autoescaping on: reasons and file names come from
submissions.

Imported by every Airflow component that loads plugins (scheduler, DAG processor, ...): only the
standard library and the plugins manager are imported here; FastAPI, Jinja2, Airflow's API security
and the tthc package are imported when the API server first serves the app (`_LazyApp`).
"""

import base64
import functools
import hashlib
import logging
import re
import threading
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, urlencode

from airflow.plugins_manager import AirflowPlugin

log = logging.getLogger(__name__)

DAG_ID = "tthc_monthly_shared_drive"
URL_PREFIX = "/tthc"
TEMPLATES_DIR = Path(__file__).resolve().with_name("tthc_status_board") / "templates"
PERIOD_RE = re.compile(r"^\d{4}-\d{2}$")
# A report folder: a month, or a roll-up (2025-Q1, 2025-H1, 2025).
REPORT_PERIOD_RE = re.compile(r"^\d{4}(-\d{2}|-Q[1-4]|-H[12])?$")
MARTS_ASSET = "tthc_marts"
# What the report step writes (<reports_dir>/<period>/BaoCao_TTHC_<period>.docx/.xlsx), and nothing else.
REPORT_TYPES = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pdf": "application/pdf",
    ".csv": "text/csv; charset=utf-8",
}
STATUS_ORDER = ("missing", "rejected", "late", "on_time")
# The page's only script: the period selector submits its form. The CSP allows exactly this handler,
# so markup that ever slipped past the escaping still could not run.
ON_PERIOD_CHANGE = "this.form.submit()"
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
       "base-uri 'none'; frame-ancestors 'self'; script-src 'unsafe-hashes' 'sha256-"
       + base64.b64encode(hashlib.sha256(ON_PERIOD_CHANGE.encode()).digest()).decode() + "'")


# --- authentication ----------------------------------------------------------------------------


@functools.cache
def board_reader():
    """The dependency of every route (one object, so tests can override it).

    Airflow's `requires_access_dag("GET", param_dag_id=DAG_ID)`: the user comes from Airflow's
    `get_user` (Bearer header or `_token` cookie, validated by the auth manager: 401 without a
    token, 401/403 for an expired or forged one); a user who may not read the DAG gets 403.
    Returns the user, whose name the page shows.
    """
    from fastapi import Depends, Request

    from airflow.api_fastapi.core_api.security import get_user, requires_access_dag

    can_read_dag = requires_access_dag("GET", param_dag_id=DAG_ID)

    def reader(request: Request, user=Depends(get_user)):
        can_read_dag(request, user)
        return user

    return reader


def login_url(request) -> str:
    """The auth manager's login page, coming back to `request`'s URL."""
    next_url = str(request.url)
    try:
        from airflow.api_fastapi.app import get_auth_manager

        return get_auth_manager().get_url_login(next_url=next_url)
    except RuntimeError:  # no auth manager initialised (the app served on its own)
        return "/auth/login?" + urlencode({"next": next_url})


# --- warehouse ----------------------------------------------------------------------------------


@functools.cache
def _read_engine(url: str):
    """SQLite: a separate engine whose transactions are deferred `BEGIN`s on a query-only
    connection (a consistent WAL snapshot that neither waits for nor blocks the pipeline's
    `BEGIN IMMEDIATE` writers). PostgreSQL: the warehouse's engine."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.pool import NullPool

    if not url.startswith("sqlite"):
        from tthc.warehouse import get_engine

        return get_engine(url)
    engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": 15})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # transactions are begun below, not by the driver
        dbapi_conn.execute("PRAGMA query_only = ON")

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN")

    return engine


class WarehouseMissing(RuntimeError):
    pass


@contextmanager
def read_snapshot(url: str):
    """A read-only transaction on the warehouse: every query of a page sees the same data."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:" and not Path(path).is_file():
            raise WarehouseMissing(f"chưa có kho dữ liệu tại {path}")
    conn = _read_engine(url).connect()
    try:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with conn.begin():
            yield conn
    finally:
        conn.close()


# --- Airflow metadata: the DAG run of a period ------------------------------------------------


def find_dag_run(start: datetime, end: datetime) -> dict | None:
    """The newest run of DAG_ID whose data interval is exactly [start, end), from Airflow's
    metadata database: {"run_id", "state", "run_type"}; None when there is none."""
    from sqlalchemy import select

    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.execute(
            select(DagRun.run_id, DagRun.state, DagRun.run_type)
            .where(DagRun.dag_id == DAG_ID, DagRun.data_interval_start == start,
                   DagRun.data_interval_end == end)
            .order_by(DagRun.run_after.desc(), DagRun.id.desc())
            .limit(1)
        ).first()
    return _run_row(row)


def find_marts_run(period: str, recent: int = 500) -> dict | None:
    """The run that produced the figures shown: the source run of the newest `tthc_marts` asset event
    naming `period` (a backfill, a scheduled run, a watcher's or a manual re-run alike); None when
    no event names it (the marts came from `tthc run`, or before Airflow kept the events)."""
    from sqlalchemy import select

    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        events = session.execute(
            select(AssetEvent.extra, AssetEvent.source_run_id)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.name == MARTS_ASSET, AssetEvent.source_dag_id == DAG_ID)
            .order_by(AssetEvent.timestamp.desc(), AssetEvent.id.desc())
            .limit(recent)
        ).all()
        run_id = next((e.source_run_id for e in events if (e.extra or {}).get("period") == period), None)
        if run_id is None:
            return None
        row = session.execute(select(DagRun.run_id, DagRun.state, DagRun.run_type)
                              .where(DagRun.dag_id == DAG_ID, DagRun.run_id == run_id)).first()
    return _run_row(row)


def _run_row(row) -> dict | None:
    if row is None:
        return None
    return {"run_id": row.run_id, "state": str(getattr(row.state, "value", row.state) or ""),
            "run_type": str(getattr(row.run_type, "value", row.run_type) or "")}


def run_link(ui_root: str, period_row: dict) -> dict:
    """Where the board sends the user for the period's figures: the run that produced them, else the
    run whose data interval is the period, else the DAG's list of runs (also when the metadata DB
    cannot be read)."""
    runs = f"{ui_root}/dags/{DAG_ID}/runs"
    run = None
    lookups = ((find_marts_run, (period_row["period"],)),
               (find_dag_run, (datetime.fromisoformat(period_row["period_start"]),
                               datetime.fromisoformat(period_row["period_end"]))))
    for lookup, args in lookups:
        try:
            run = lookup(*args)
        except Exception as exc:  # the board still shows the warehouse without Airflow's DB
            log.warning("status board: cannot look up the DAG run of %s: %s", period_row["period"], _first_line(exc))
        if run is not None:
            break
    if run is None:
        return {"href": runs, "run_id": None, "state": None, "runs_href": runs}
    return {"href": f"{runs}/{quote(run['run_id'], safe='')}", "run_id": run["run_id"],
            "state": run["state"], "runs_href": runs}


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{exc.__class__.__name__}: {text.splitlines()[0]}" if text else exc.__class__.__name__


# --- reports ------------------------------------------------------------------------------------


def resolve_report(reports_dir: Path, rel_path: str) -> Path | None:
    """The report file `<period>/<name>` inside reports_dir, or None for anything else: other
    shapes, hidden or temporary files, other types, and any path (.., absolute, encoded,
    symlinked) that resolves outside reports_dir."""
    if not rel_path or "\\" in rel_path or "\x00" in rel_path:
        return None
    parts = rel_path.split("/")
    if len(parts) != 2:
        return None
    period, name = parts
    if not REPORT_PERIOD_RE.fullmatch(period) or not name or name.startswith(".") \
            or Path(name).suffix.lower() not in REPORT_TYPES:
        return None
    try:
        root = Path(reports_dir).resolve()
        path = (root / period / name).resolve()
    except (OSError, RuntimeError):
        return None
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def report_files(reports_dir: Path, period: str) -> list[Path]:
    folder = Path(reports_dir) / period
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if resolve_report(reports_dir, f"{period}/{p.name}") is not None)


# --- the page's data ----------------------------------------------------------------------------


def board_data(conn, period: str | None, calendar) -> dict:
    """Everything the template shows for `period` (None: the newest), from board_*.sql; the deadline
    from the reporting calendar (`calendar`, under the scheme the period was computed with)."""
    from tthc.reports.formatting import (
        NOT_APPLICABLE, STATUS_VI, as_bool, reason_list, target_text, vn_datetime, vn_int, vn_pct,
    )
    from tthc.periods import Period
    from tthc.warehouse import query

    periods = query(conn, "queries/board_periods")
    data = {"periods": [p["period"] for p in periods], "period": period, "found": False}
    chosen = periods[0] if periods and period is None else next((p for p in periods if p["period"] == period), None)
    if chosen is None:
        return data
    label = chosen["period"]
    deadline = calendar.with_scheme(chosen["period_scheme"]).deadline(Period.parse(label))
    data.update(found=True, period=label, period_row=chosen, deadline=str(deadline), scheme=chosen["period_scheme"])

    status = []
    for r in query(conn, "queries/board_status", period=label):
        status.append({
            "unit_code": r["unit_code"] or "", "unit_name": r["unit_name"] or "",
            "status": r["status"], "status_vi": STATUS_VI.get(r["status"], r["status"]),
            "received": vn_datetime(r["received_at"]), "file": r["file"] or "",
            "versions": r["versions"], "reasons": reason_list(r["reasons"]), "expected": bool(r["expected"]),
        })
    counts = {s: sum(1 for r in status if r["status"] == s and r["expected"]) for s in STATUS_ORDER}
    data["status"] = status
    data["counts"] = [{"status": s, "status_vi": STATUS_VI[s], "n": counts[s]} for s in STATUS_ORDER]
    data["unexpected"] = sum(1 for r in status if not r["expected"])

    indicators = query(conn, "queries/board_indicators", period=label)
    cells = {(c["unit_code"], c["indicator_code"]): c for c in query(conn, "queries/report_units", period=label)}
    applicable = {(a["unit_code"], a["indicator_code"]) for a in query(conn, "queries/board_applicable",
                                                                         period=label)}

    def cell(unit: str, code: str) -> dict:
        c = cells.get((unit, code))
        if c is None:  # not reported: blank
            na = (unit, code) not in applicable
            return {"text": "", "css": "na" if na else "blank",
                    "title": "không áp dụng" if na else "chưa báo cáo"}
        meets = as_bool(c["meets_target"])
        if c["value_pct"] is None:
            text, css = NOT_APPLICABLE, "nil"
        else:
            text, css = vn_pct(c["value_pct"]), {True: "ok", False: "ko", None: "nt"}[meets]
        target = target_text(c["comparator"], c["target_pct"])
        title = f"{code}: {vn_int(c['numerator'])}/{vn_int(c['denominator'])}"
        title += f" — chỉ tiêu {target}%" if target else " — không có chỉ tiêu"
        title += f" — nguồn: {c['source']}"
        return {"text": text, "css": css, "title": title}

    units = sorted({r["unit_code"]: r["unit_name"] for r in status if r["expected"] and r["unit_code"]}.items())
    data["indicators"] = [{
        "code": i["indicator_code"], "short_name": i["short_name"], "name": i["indicator_name"],
        "target": target_text(i["comparator"], i["target_pct"]),
    } for i in indicators]
    data["heat_rows"] = [{"unit_code": code, "unit_name": name,
                          "cells": [cell(code, i["indicator_code"]) for i in indicators]} for code, name in units]
    data["area_row"] = []
    for i in indicators:
        meets = as_bool(i["meets_target"])
        data["area_row"].append({
            "text": vn_pct(i["value_pct"], reported=bool(i["units_reported"])),
            "css": "nil" if i["value_pct"] is None else {True: "ok", False: "ko", None: "nt"}[meets],
            "title": f"{i['indicator_code']}: {vn_int(i['numerator'])}/{vn_int(i['denominator'])}, "
                     f"{i['units_reported']}/{i['units_expected']} đơn vị báo cáo",
        })
    return data


def rollup_periods(conn) -> list[dict]:
    """The quarters, half-years and years with roll-up figures, newest first (board_rollup_periods.sql)."""
    from tthc.periods import RollupPeriod
    from tthc.warehouse import query

    return [{"label": r["rollup_period"], "title": RollupPeriod.parse(r["rollup_period"]).title_vi(),
             "first": r["first_period"], "last": r["last_period"]}
            for r in query(conn, "queries/board_rollup_periods")]


# --- the app ------------------------------------------------------------------------------------


@functools.cache
def templates():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    # autoescape=True for every template whatever its name: reasons and paths come from submissions.
    return Environment(loader=FileSystemLoader(str(TEMPLATES_DIR)), autoescape=True, undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True)


def _downloads(here: str, reports_dir: Path, label: str) -> list[dict]:
    return [{"name": p.name, "href": f"{here}/reports/{quote(label)}/{quote(p.name)}"}
            for p in report_files(reports_dir, label)]


def _ui_root(request) -> str:
    """The Airflow UI's root path: the mount's root_path without this app's prefix."""
    root = request.scope.get("root_path", "") or ""
    return root[: -len(URL_PREFIX)] if root.endswith(URL_PREFIX) else root


def create_app():
    """The board's FastAPI app (the plugin mounts the one built on first use)."""
    from fastapi import Depends, FastAPI, HTTPException, Query, Request
    from fastapi.exception_handlers import http_exception_handler
    from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from tthc.redaction import redact, url_secrets
    from tthc_airflow import task_settings

    reader = board_reader()
    app = FastAPI(title="Bảng trạng thái TTHC", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(reader)])

    @app.exception_handler(StarletteHTTPException)
    async def _auth_redirect(request: Request, exc: StarletteHTTPException):
        """A browser without a session goes to the login page; API clients get the 401."""
        wants_html = "text/html" in request.headers.get("accept", "")
        if exc.status_code == 401 and request.method in ("GET", "HEAD") and wants_html:
            return RedirectResponse(login_url(request), status_code=303)
        return await http_exception_handler(request, exc)

    def render(name: str, status_code: int = 200, **context) -> HTMLResponse:
        html = templates().get_template(name).render(on_period_change=ON_PERIOD_CHANGE, **context)
        return HTMLResponse(html, status_code=status_code, headers={
            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
            # The UI shows the board in an iframe of the same origin; no one else may frame it.
            "Content-Security-Policy": CSP,
        })

    @app.get("/", response_class=HTMLResponse, name="board")
    def board(request: Request, period: str | None = Query(None, description="Kỳ báo cáo YYYY-MM"),
              user=Depends(reader)):
        if period is not None and not PERIOD_RE.fullmatch(period):
            raise HTTPException(422, "period must be YYYY-MM")
        base = {"user": getattr(user, "get_name", lambda: "")(), "dag_id": DAG_ID}
        settings = None
        try:
            settings = task_settings()
            with read_snapshot(settings.warehouse_url) as conn:
                data = board_data(conn, period, settings.calendar)
                rollups = rollup_periods(conn)
        except Exception as exc:  # no warehouse yet, unreachable, or a broken setting: say so, in the page
            reason = redact(_first_line(exc), url_secrets(settings.warehouse_url) if settings else ())
            log.warning("status board: warehouse unreadable: %s", reason)
            return render("board.html", 503, **base, error=f"Không đọc được kho dữ liệu: {reason}",
                          periods=[], period=period, found=False)
        if not data["found"]:
            return render("board.html", 404 if period else 200, **base, error=None, **data)
        data["run"] = run_link(_ui_root(request), data.pop("period_row"))
        # Paths under this app's mount (request.url_for would look the name up in the API server's router).
        here = request.scope.get("root_path", "") or ""
        data["reports"] = _downloads(here, settings.reports_dir, data["period"])
        data["rollups"] = [dict(r, reports=_downloads(here, settings.reports_dir, r["label"])) for r in rollups]
        return render("board.html", **base, error=None, **data)

    @app.get("/reports/{file_path:path}", name="report")
    def report(file_path: str):
        path = resolve_report(task_settings().reports_dir, file_path)
        if path is None:
            raise HTTPException(404, "Không có tệp báo cáo này")
        return FileResponse(path, media_type=REPORT_TYPES[path.suffix.lower()], filename=path.name,
                            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})

    return app


class _LazyApp:
    """An ASGI app that builds the board's FastAPI app on its first request (see module doc)."""

    def __init__(self, factory):
        self._factory = factory
        self._app = None
        self._lock = threading.Lock()

    @property
    def app(self):
        if self._app is None:
            with self._lock:
                if self._app is None:
                    self._app = self._factory()
        return self._app

    async def __call__(self, scope, receive, send):
        await self.app(scope, receive, send)

    def __repr__(self) -> str:
        return f"{__name__}.create_app()"


board_app = _LazyApp(create_app)


class TthcStatusBoardPlugin(AirflowPlugin):
    name = "tthc_status_board"
    fastapi_apps = [{"app": board_app, "url_prefix": URL_PREFIX, "name": "Bảng trạng thái TTHC"}]
    external_views = [{
        "name": "Bảng trạng thái TTHC",
        "href": f"{URL_PREFIX}/",
        "destination": "nav",
        "category": "browse",
        "url_route": "tthc-status-board",
    }]

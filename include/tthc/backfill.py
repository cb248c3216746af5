"""Backfills by period through Airflow's REST API (`tthc backfill`, and the demo).

    tthc backfill --from 2025-01 --to 2025-03          # tthc_monthly_shared_drive, 2025-01..03
    tthc backfill --from 2025-Q1 --to 2025-Q2          # tthc_quarterly_report
    tthc backfill --from 2025 --to 2025 --dag annual

Airflow selects a backfill's runs by *logical date*, both ends included, and the reporting-period
timetable puts a period's logical date at its start (2025-03 starts 15/02/2025 00:00 in
Asia/Ho_Chi_Minh under Decree 09). So periods P..Q become the window [start of P, start of Q] with
its UTC offset: exactly those periods, whatever the server's or the browser's time zone. Runs that
already exist are cleared and run again (reprocess behaviour `completed`); the scheduler runs them.

No Airflow import: plain HTTP to the API server (`TTHC_AIRFLOW_API_URL`, default
http://127.0.0.1:8080), with a token from `TTHC_AIRFLOW_USERNAME`/`TTHC_AIRFLOW_PASSWORD` when set
(POST /auth/token, as Airflow's simple and FAB auth managers issue them).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import httpx

from .calendar import ReportingCalendar
from .periods import Period, PeriodError, RollupPeriod, parse_period

DEFAULT_API_URL = "http://127.0.0.1:8080"
# frequency → the DAG that runs one period of it (dags/tthc_monthly.py, dags/tthc_rollup_reports.py)
DAG_OF_FREQUENCY = {
    "month": "tthc_monthly_shared_drive",
    "quarter": "tthc_quarterly_report",
    "half_year": "tthc_half_year_report",
    "year": "tthc_annual_report",
}
DAG_NAMES = {"monthly": "month", "quarterly": "quarter", "half-year": "half_year", "annual": "year"}


class BackfillError(RuntimeError):
    """Something the user must fix; the message says what."""


@dataclass(frozen=True)
class Window:
    frequency: str
    labels: list[str]
    starts: list[datetime]  # each period's start (local, aware): its runs' logical date

    @property
    def from_date(self) -> datetime:
        return self.starts[0]

    @property
    def to_date(self) -> datetime:
        return self.starts[-1]


def period_window(first: str, last: str, calendar: ReportingCalendar, now: datetime | None = None) -> Window:
    """Periods first..last (same frequency, both closed) as a backfill window of logical dates."""
    items = periods_between(first, last)
    if not items:
        raise BackfillError(f"--from {first} is after --to {last}")
    open_ = [p for p in items if not calendar.is_closed(p, now)]
    if open_:
        raise BackfillError(f"period {open_[0].label} has not ended yet (last day "
                            f"{calendar.last_day(open_[0]):%d/%m/%Y}): only closed periods can be backfilled")
    frequency = items[0].frequency if isinstance(items[0], RollupPeriod) else "month"
    return Window(frequency, [p.label for p in items], [calendar.bounds(p)[0] for p in items])


def periods_between(first: str, last: str) -> list[Period] | list[RollupPeriod]:
    """Periods first..last, both included: months, or roll-ups of one frequency."""
    try:
        first_item, last_item = parse_period(first, None), parse_period(last, None)
    except PeriodError as exc:
        raise BackfillError(str(exc)) from None
    if getattr(first_item, "frequency", "month") != getattr(last_item, "frequency", "month"):
        raise BackfillError(f"--from {first} and --to {last} are not the same kind of period")
    out, item = [], first_item
    while not last_item.months[0] < item.months[0]:  # a roll-up's order is its first month's
        out.append(item)
        item = item.shift(1)
    return out


def dag_for(frequency: str, dag: str | None) -> str:
    """The DAG to backfill: --dag (a name of DAG_NAMES or a DAG id), else the one of the frequency."""
    if dag is None:
        return DAG_OF_FREQUENCY[frequency]
    dag_id = DAG_OF_FREQUENCY.get(DAG_NAMES.get(dag, ""), dag)
    runs_frequency = {v: k for k, v in DAG_OF_FREQUENCY.items()}.get(dag_id)
    if runs_frequency and runs_frequency != frequency:
        raise BackfillError(f"{dag_id} runs {runs_frequency} periods, not {frequency} ones: "
                            f"give {runs_frequency} labels (e.g. {_EXAMPLES[runs_frequency]})")
    return dag_id


_EXAMPLES = {"month": "2025-03", "quarter": "2025-Q1", "half_year": "2025-H1", "year": "2025"}


class AirflowApi:
    """The API server's REST API, with a token when credentials are given."""

    def __init__(self, base_url: str | None = None, username: str | None = None, password: str | None = None,
                 timeout: float = 30):
        self.base_url = (base_url or os.environ.get("TTHC_AIRFLOW_API_URL") or DEFAULT_API_URL).rstrip("/")
        username = username or os.environ.get("TTHC_AIRFLOW_USERNAME")
        password = password or os.environ.get("TTHC_AIRFLOW_PASSWORD")
        self.client = httpx.Client(base_url=self.base_url, timeout=timeout)
        if username:
            token = self._call("POST", "/auth/token", json={"username": username, "password": password or ""})
            self.client.headers["Authorization"] = f"Bearer {token['access_token']}"

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> "AirflowApi":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, method: str, path: str, retries: int = 5, **kwargs) -> dict:
        try:
            r = self.client.request(method, path, **kwargs)
            # 503: the metadata DB was locked and Airflow undid the request (a busy SQLite): try again.
            for attempt in range(retries):
                if r.status_code != 503:
                    break
                time.sleep(2 ** attempt)
                r = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise BackfillError(f"Airflow API at {self.base_url} not reachable ({exc.__class__.__name__}): "
                                f"is it running (`make airflow-ui`)? Else set TTHC_AIRFLOW_API_URL") from None
        if r.status_code in (401, 403):
            raise BackfillError(f"Airflow API at {self.base_url}: {r.status_code} (set TTHC_AIRFLOW_USERNAME and "
                                f"TTHC_AIRFLOW_PASSWORD to a user who may run the DAG)")
        if r.status_code >= 400:
            detail = r.json().get("detail") if r.headers.get("content-type", "").startswith("application/json") \
                else r.text
            raise BackfillError(f"Airflow API {method} {path}: {r.status_code} {str(detail)[:300]}")
        return r.json() if r.content else {}

    def get(self, path: str, **params) -> dict:
        return self._call("GET", path, params=params)

    def post(self, path: str, body: dict) -> dict:
        return self._call("POST", path, json=body)

    def patch(self, path: str, body: dict) -> dict:
        return self._call("PATCH", path, json=body)


def backfill_body(dag_id: str, window: Window, max_active_runs: int) -> dict:
    # dag_run_conf {}: a re-run run loses any `period` an earlier manual conf gave it.
    return {"dag_id": dag_id, "from_date": window.from_date.isoformat(), "to_date": window.to_date.isoformat(),
            "reprocess_behavior": "completed", "max_active_runs": max_active_runs, "dag_run_conf": {},
            "run_backwards": False}


def plan(api: AirflowApi, dag_id: str, window: Window, max_active_runs: int = 3) -> list[str]:
    """The dry run: the logical dates Airflow would run; checked to be the window's periods."""
    api.get(f"/api/v2/dags/{dag_id}")  # a clear 404 for an unknown DAG
    dry = api.post("/api/v2/backfills/dry_run", backfill_body(dag_id, window, max_active_runs))
    dates = [_instant(b["logical_date"]) for b in dry["backfills"]]
    if len(dates) != len(window.labels) or dates[0] != window.from_date or dates[-1] != window.to_date:
        raise BackfillError(
            f"Airflow would run {len(dates)} run(s) of {dag_id} ({', '.join(d.isoformat() for d in dates) or 'none'}) "
            f"for {len(window.labels)} period(s) {window.labels[0]}..{window.labels[-1]}: a run of one of "
            f"them is still queued or running (wait for it), or the DAG's period scheme differs from "
            f"TTHC_PERIOD_SCHEME")
    return [d.isoformat() for d in dates]


def create(api: AirflowApi, dag_id: str, window: Window, max_active_runs: int = 3,
           settle_timeout: float = 45, waiting=None) -> dict:
    """The backfill (Airflow's object: id, dag_id, from_date, to_date, ...). `waiting(backfills)` is
    told when an earlier backfill whose runs have ended is waited for (Airflow's completion mark)."""
    plan(api, dag_id, window, max_active_runs)
    try:
        return _post(api, dag_id, window, max_active_runs)
    except BackfillError:
        running = _running_backfills(api, dag_id)
        # A 503 (the SQLite metadata DB busy) can come after the backfill was made: the retry then
        # meets "409 already a running backfill". A running backfill of this very window is the one asked for.
        same = [b for b in running if _instant(b["from_date"]) == window.from_date
                and _instant(b["to_date"]) == window.to_date]
        if same:
            return same[0]
        # Airflow marks a backfill complete on a timer (every 30 s), not when its last run ends: until
        # then a new backfill of the DAG is refused. One whose runs have all ended is waited for.
        if not running or not all(_runs_ended(api, b) for b in running):
            raise
        if waiting:
            waiting(running)
        deadline = time.monotonic() + settle_timeout
        while _running_backfills(api, dag_id):
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
        return _post(api, dag_id, window, max_active_runs)


def _post(api: AirflowApi, dag_id: str, window: Window, max_active_runs: int) -> dict:
    """POST the backfill with the DAG paused meanwhile (and unpaused again, whatever the answer): the
    API server makes the runs one by one (and clears and re-queues a re-run's existing ones), and a
    scheduler on a SQLite metadata DB (no row locks) examining one meanwhile can hit its half-made task
    instances (FOREIGN KEY constraint failed) or a run being replaced, then dies (ObjectDeletedError).
    The scheduler passes over a paused DAG's runs; those already running keep running."""
    pause = not is_paused(api, dag_id)
    if pause:
        api.patch(f"/api/v2/dags/{dag_id}", {"is_paused": True})
    try:
        return api.post("/api/v2/backfills", backfill_body(dag_id, window, max_active_runs))
    finally:
        if pause:
            api.patch(f"/api/v2/dags/{dag_id}", {"is_paused": False})


def _running_backfills(api: AirflowApi, dag_id: str) -> list[dict]:
    return [b for b in api.get("/api/v2/backfills", dag_id=dag_id)["backfills"] if not b.get("completed_at")]


def _runs_ended(api: AirflowApi, backfill: dict) -> bool:
    runs = api.get(f"/api/v2/dags/{backfill['dag_id']}/dagRuns", logical_date_gte=backfill["from_date"],
                   logical_date_lte=backfill["to_date"], limit=1000)["dag_runs"]
    return bool(runs) and all(r["state"] in ("success", "failed") for r in runs)


def is_paused(api: AirflowApi, dag_id: str) -> bool:
    return bool(api.get(f"/api/v2/dags/{dag_id}")["is_paused"])


def wait(api: AirflowApi, backfill: dict, window: Window, timeout: float = 3600, poll: float = 2.0,
         progress=None) -> list[dict]:
    """Until the backfill is complete; the runs of its periods (the newest of each logical date)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        current = api.get(f"/api/v2/backfills/{backfill['id']}")
        runs = runs_of(api, backfill["dag_id"], window)
        states = sorted(str(r["state"]) for r in runs)
        if progress and states != last:
            progress(", ".join(f"{s} {states.count(s)}" for s in sorted(set(states))))
            last = states
        if current.get("completed_at"):
            return runs
        if time.monotonic() > deadline:
            raise BackfillError(f"backfill {backfill['id']} of {backfill['dag_id']} not complete after {timeout:.0f} s")
        time.sleep(poll)


def runs_of(api: AirflowApi, dag_id: str, window: Window) -> list[dict]:
    """The runs whose logical date is in the window, one per logical date (the newest)."""
    runs = api.get(f"/api/v2/dags/{dag_id}/dagRuns", logical_date_gte=window.from_date.isoformat(),
                   logical_date_lte=window.to_date.isoformat(), limit=1000, order_by="run_after")["dag_runs"]
    return list({r["logical_date"]: r for r in runs}.values())


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))

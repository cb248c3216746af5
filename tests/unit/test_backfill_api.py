"""`tthc backfill` against Airflow's REST API answers seen from a busy SQLite metadata DB (an HTTP
stand-in for the API server: the client's own requests, no Airflow)."""

from __future__ import annotations

import httpx
import pytest

from tthc import backfill
from tthc.calendar import ReportingCalendar

DAG = "tthc_monthly_shared_drive"
WINDOW = backfill.period_window("2025-01", "2025-03", ReportingCalendar())


def _iso(moment) -> str:
    return moment.isoformat()


def _api(running_window) -> tuple[backfill.AirflowApi, list[str]]:
    """An API whose POST /backfills answers 503 after making the backfill (so the retry meets 409),
    with `running_window` (from, to) as the running backfill it lists."""
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.method} {request.url.path}")
        path = request.url.path
        if path == f"/api/v2/dags/{DAG}":
            return httpx.Response(200, json={"dag_id": DAG, "is_paused": False})
        if path == "/api/v2/backfills/dry_run":
            return httpx.Response(200, json={"backfills": [{"logical_date": _iso(s)} for s in WINDOW.starts]})
        if path == "/api/v2/backfills" and request.method == "POST":
            made = sum(c == "POST /api/v2/backfills" for c in calls)
            return httpx.Response(503 if made == 1 else 409,
                                  json={"detail": "database is locked" if made == 1 else
                                        f"There is already a running backfill for dag {DAG}"})
        if path == "/api/v2/backfills":
            first, last = running_window
            return httpx.Response(200, json={"backfills": [{"id": 7, "dag_id": DAG, "from_date": _iso(first),
                                                            "to_date": _iso(last), "completed_at": None}]})
        return httpx.Response(404, json={"detail": path})

    api = backfill.AirflowApi("http://airflow.test")
    api.client = httpx.Client(base_url="http://airflow.test", transport=httpx.MockTransport(handler))
    return api, calls


def test_a_backfill_made_before_a_503_is_the_one_returned(monkeypatch):
    monkeypatch.setattr(backfill.time, "sleep", lambda _s: None)
    api, calls = _api((WINDOW.from_date, WINDOW.to_date))
    assert backfill.create(api, DAG, WINDOW)["id"] == 7
    assert calls.count("POST /api/v2/backfills") == 2  # the 503, then the 409


def test_a_running_backfill_of_another_window_is_an_error(monkeypatch):
    monkeypatch.setattr(backfill.time, "sleep", lambda _s: None)
    api, _ = _api((WINDOW.starts[1], WINDOW.to_date))
    with pytest.raises(backfill.BackfillError, match="409 There is already a running backfill"):
        backfill.create(api, DAG, WINDOW)

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


def _dag(request: httpx.Request, calls: list[str]) -> httpx.Response:
    """GET and PATCH of the DAG: paused as the last PATCH left it (unpaused at first)."""
    patches = [c for c in calls if c.startswith("PATCH ")]
    if request.method == "PATCH":
        calls[-1] += " " + request.content.decode()
        patches.append(calls[-1])
    return httpx.Response(200, json={"dag_id": DAG, "is_paused": bool(patches) and '"is_paused":true' in patches[-1]})


def _client(handler) -> backfill.AirflowApi:
    api = backfill.AirflowApi("http://airflow.test")
    api.client = httpx.Client(base_url="http://airflow.test", transport=httpx.MockTransport(handler))
    return api


def _api(running_window) -> tuple[backfill.AirflowApi, list[str]]:
    """An API whose POST /backfills answers 503 after making the backfill (so the retry meets 409),
    with `running_window` (from, to) as the running backfill it lists."""
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.method} {request.url.path}")
        path = request.url.path
        if path == f"/api/v2/dags/{DAG}":
            return _dag(request, calls)
        if path == f"/api/v2/dags/{DAG}/dagRuns":  # the running backfill's runs
            return httpx.Response(200, json={"dag_runs": [{"state": "success"}, {"state": "running"}]})
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

    return _client(handler), calls


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


def _api_after_a_backfill(run_states: list[str], marked_after: int | None):
    """An API where a backfill of 2025-01 (id 6) is not marked complete yet, its runs in `run_states`;
    Airflow marks it complete at the `marked_after`-th listing (never: None), and only then takes a new one."""
    calls = []
    earlier = backfill.period_window("2025-01", "2025-01", ReportingCalendar())

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.method} {request.url.path}")
        path = request.url.path
        listings = calls.count("GET /api/v2/backfills")
        marked = marked_after is not None and listings >= marked_after
        if path == f"/api/v2/dags/{DAG}":
            return _dag(request, calls)
        if path == "/api/v2/backfills/dry_run":
            return httpx.Response(200, json={"backfills": [{"logical_date": _iso(s)} for s in WINDOW.starts]})
        if path == "/api/v2/backfills" and request.method == "POST":
            if not marked:
                return httpx.Response(409, json={"detail": f"There is already a running backfill for dag {DAG}"})
            return httpx.Response(200, json={"id": 8, "dag_id": DAG})
        if path == "/api/v2/backfills":
            return httpx.Response(200, json={"backfills": [{
                "id": 6, "dag_id": DAG, "from_date": _iso(earlier.from_date), "to_date": _iso(earlier.to_date),
                "completed_at": "2026-11-29T23:00:00Z" if marked else None}]})
        if path == f"/api/v2/dags/{DAG}/dagRuns":
            assert request.url.params["logical_date_gte"] == _iso(earlier.from_date)
            return httpx.Response(200, json={"dag_runs": [{"state": s} for s in run_states]})
        return httpx.Response(404, json={"detail": path})

    return _client(handler), calls


def test_a_backfill_whose_runs_ended_is_waited_for_until_airflow_marks_it_complete(monkeypatch):
    monkeypatch.setattr(backfill.time, "sleep", lambda _s: None)
    api, calls = _api_after_a_backfill(["success", "failed"], marked_after=3)
    told = []
    assert backfill.create(api, DAG, WINDOW, waiting=told.append)["id"] == 8
    assert [[b["id"] for b in earlier] for earlier in told] == [[6]]
    assert calls.count("POST /api/v2/backfills") == 2 and calls.count("GET /api/v2/backfills") == 3


@pytest.mark.parametrize("run_states, marked_after", [(["success", "running"], 2), ([], 2), (["success"], None)],
                         ids=["a-run-still-running", "no-runs-yet", "never-marked"])
def test_a_backfill_still_running_is_an_error(monkeypatch, run_states, marked_after):
    clock = iter(range(0, 10_000, 10))
    monkeypatch.setattr(backfill.time, "sleep", lambda _s: None)
    monkeypatch.setattr(backfill.time, "monotonic", lambda: next(clock))
    api, calls = _api_after_a_backfill(run_states, marked_after)
    with pytest.raises(backfill.BackfillError, match="409 There is already a running backfill"):
        backfill.create(api, DAG, WINDOW, settle_timeout=45)
    assert calls.count("POST /api/v2/backfills") == 1


def test_the_dag_is_paused_while_airflow_makes_the_backfill_and_unpaused_whatever_the_answer(monkeypatch):
    """A re-run's existing runs are cleared and re-queued one by one; a SQLite scheduler examining one
    meanwhile dies: the DAG is paused around the POST, and unpaused after it, even after a refusal."""
    monkeypatch.setattr(backfill.time, "sleep", lambda _s: None)
    api, calls = _api((WINDOW.starts[1], WINDOW.to_date))  # another window runs: the POSTs are refused
    with pytest.raises(backfill.BackfillError, match="409"):
        backfill.create(api, DAG, WINDOW)
    posts_and_patches = [c.replace(" ", "") for c in calls if c == "POST /api/v2/backfills" or c.startswith("PATCH")]
    assert posts_and_patches == [
        'PATCH/api/v2/dags/tthc_monthly_shared_drive{"is_paused":true}', "POST/api/v2/backfills",
        "POST/api/v2/backfills",  # the 503's retry
        'PATCH/api/v2/dags/tthc_monthly_shared_drive{"is_paused":false}']

"""The pipeline's steps. Airflow tasks and the `tthc` CLI call these same functions.

ingest_shared_drive → validate_period → load_period → aggregate_period → report_period.
Each returns a small JSON-serialisable summary (it becomes the task's XCom and the CLI's output).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from datetime import datetime

from . import warehouse
from .catalogue import Catalogue
from .discovery import FileChangedError, archive_copy, scan
from .periods import LOCAL_TZ, Period
from .settings import Settings
from .warehouse import execute_file, execute_many, now_local, query, transaction

log = logging.getLogger(__name__)


def catalogue_of(settings: Settings) -> Catalogue:
    return Catalogue.load(settings.catalogue_dir)


def prepare_warehouse(settings: Settings) -> list[str]:
    return warehouse.migrate(settings.warehouse_url)


# --- ingest ------------------------------------------------------------------------------------


def ingest_shared_drive(settings: Settings) -> dict:
    """Record every file on the share; archive and parse each new content version once.

    Every file is its own transaction, so one unreadable file never blocks the others.
    """
    from .parser import SubmissionParseError, parse_submission  # openpyxl: imported when used

    prepare_warehouse(settings)
    if not settings.shared_drive.is_dir():
        raise FileNotFoundError(f"thư mục dùng chung không tồn tại: {settings.shared_drive}")
    summary = {"seen": 0, "unchanged": 0, "new_versions": 0, "known_content": 0, "ignored": 0,
               "parsed": 0, "rejected": 0, "busy": 0, "periods": []}
    periods = set()
    url = settings.warehouse_url
    with transaction(url) as conn:
        known = {(r["path"], r["size_bytes"], r["mtime"]) for r in query(conn, "queries/file_observations")}
        ignored = {r["path"]: (r["size_bytes"], r["mtime"]) for r in query(conn, "queries/ignored_files")}
    for found in scan(settings.shared_drive):
        summary["seen"] += 1
        if found.skip_reason:
            summary["ignored"] += 1
            if ignored.get(found.path) != (found.size, found.mtime):
                with transaction(url) as conn:
                    warehouse.lock_for_writing(conn)
                    execute_file(conn, "loads/ignored_file", path=found.path, size=found.size,
                                 mtime=found.mtime, reason=found.skip_reason)
            continue
        if (found.path, found.size, found.mtime) in known:
            summary["unchanged"] += 1
            continue
        try:
            digest, archived = archive_copy(found, settings.archive_dir)
        except (FileChangedError, OSError) as exc:
            # Still being written, or unreadable right now (share hiccup): the next run retries it.
            log.warning("file left for the next run: %s (%s)", found.path, exc.__class__.__name__)
            summary["busy"] += 1
            continue
        with transaction(url) as conn:
            # Another ingest (a parallel run, the watcher) may have recorded it since `known` was read.
            warehouse.lock_for_writing(conn)
            if query(conn, "queries/file_observed", path=found.path, h=digest, mtime=found.mtime):
                summary["unchanged"] += 1
                continue
            seen_before = query(conn, "queries/raw_file_known", h=digest)
            if not seen_before:
                try:
                    parsed = parse_submission(archived)
                except SubmissionParseError as exc:
                    _store_rejected_parse(conn, digest, found, exc)
                    summary["rejected"] += 1
                    if exc.period:
                        periods.add(exc.period.label)
                    log.info("rejected %s: %s", found.path, "; ".join(exc.reasons))
                else:
                    _store_parsed(conn, digest, parsed)
                    summary["parsed"] += 1
                    periods.add(parsed.period.label)
                execute_file(conn, "loads/raw_file", h=digest, size=found.size, seen=now_local(),
                             archive=str(archived.relative_to(settings.archive_dir)))
                summary["new_versions"] += 1
            else:
                summary["known_content"] += 1
            execute_file(conn, "loads/file_observation", path=found.path, h=digest, size=found.size,
                         mtime=found.mtime, seen=now_local())
    summary["periods"] = sorted(periods)
    log.info("shared drive %s: %s", settings.shared_drive, summary)
    return summary


def _store_rejected_parse(conn, digest, found, exc) -> None:
    execute_file(conn, "loads/stg_submission_rejected", h=digest, kind=found.abs_path.suffix.lower().lstrip("."),
                 unit=exc.unit_code, period=exc.period.label if exc.period else None,
                 reasons=json.dumps(exc.reasons, ensure_ascii=False))


def _store_parsed(conn, digest, parsed) -> None:
    execute_file(conn, "loads/stg_submission_parsed", h=digest, kind=parsed.file_kind, unit=parsed.unit_code,
                 cell=parsed.unit_cell, period=parsed.period.label,
                 warnings=json.dumps(parsed.warnings, ensure_ascii=False), cols=json.dumps(parsed.columns))
    if parsed.rows:
        execute_many(conn, "loads/stg_submission_row",
                     [dict(asdict(r), h=digest, cells=json.dumps(r.cells, ensure_ascii=False)) for r in parsed.rows])


# --- validate ----------------------------------------------------------------------------------


def validate_period(settings: Settings, period: Period) -> dict:
    """Run the Great Expectations suite on every parsed submission of the period.

    Files rejected while parsing keep their reasons; files whose period could not be read are
    counted in the period during whose collection window they appeared on the share.
    """
    from .validation import validate_submission, write_result

    catalogue = catalogue_of(settings)
    prepare_warehouse(settings)
    started = now_local()
    scheme = settings.period_scheme
    window_start = period.shift(-1).deadline(scheme, settings.deadline_workdays).isoformat()
    window_end = period.deadline(scheme, settings.deadline_workdays).isoformat()
    with transaction(settings.warehouse_url) as conn:
        subs = warehouse.query(conn, "queries/submissions_to_validate", period=period.label,
                               window_start=window_start, window_end=window_end)
        rows = warehouse.query(conn, "queries/submission_rows_of_period", period=period.label)
    rows_by_hash: dict[str, list[dict]] = {}
    for r in rows:
        rows_by_hash.setdefault(r["file_hash"], []).append(r)
    results, accepted, rejected = [], 0, 0
    for sub in subs:
        if sub["parse_outcome"] == "parsed":
            outcome = validate_submission(sub, rows_by_hash.get(sub["file_hash"], []), catalogue, period, scheme)
            result_path = settings.archive_dir / "validations" / f"{sub['file_hash']}.json"
            write_result(outcome, result_path)
            reasons, ok = outcome.reasons, outcome.accepted
            total, failed = outcome.expectations_total, outcome.expectations_failed
            rel = str(result_path.relative_to(settings.archive_dir))
        else:
            reasons, ok, total, failed, rel = json.loads(sub["parse_reasons"] or "[]"), False, 0, 0, None
        accepted += ok
        rejected += not ok
        results.append({"file_hash": sub["file_hash"], "period": period.label,
                        "outcome": "accepted" if ok else "rejected",
                        "reasons": "; ".join(reasons) if reasons else None,
                        "total": total, "failed": failed, "result_path": rel})
    with transaction(settings.warehouse_url) as conn:
        # Files first seen after `started` are not in this run: the watcher re-runs the period for them.
        execute_file(conn, "loads/period_validation", period=period.label, started=started)
        if results:
            execute_many(conn, "loads/validation_result", results)
    summary = {"period": period.label, "files": len(results), "accepted": accepted, "rejected": rejected}
    log.info("validated %s", summary)
    return summary


# --- load and aggregate ------------------------------------------------------------------------


def _refresh_reference(conn, catalogue: Catalogue, period: Period, settings: Settings) -> None:
    """The catalogue's current content and the period's expected units, as tables SQL can join."""
    scheme = settings.period_scheme
    execute_file(conn, "loads/ref_unit_clear")
    execute_many(conn, "loads/ref_unit",
                 [dict(asdict(u), valid_from=u.valid_from.isoformat(),
                       valid_to=u.valid_to.isoformat() if u.valid_to else None) for u in catalogue.units.values()])
    execute_file(conn, "loads/ref_indicator_clear")
    execute_many(conn, "loads/ref_indicator", [asdict(i) for i in catalogue.indicators.values()])
    execute_file(conn, "loads/ref_target_clear")
    execute_many(conn, "loads/ref_target", [asdict(t) for t in catalogue.targets.values()])
    start, end = period.bounds(scheme)
    execute_file(conn, "loads/ref_period", period=period.label, scheme=scheme, start=start.isoformat(),
                 end=end.isoformat(), deadline=period.deadline(scheme, settings.deadline_workdays).isoformat())
    execute_file(conn, "loads/ref_period_unit_indicator_clear", period=period.label)
    execute_many(conn, "loads/ref_period_unit_indicator",
                 [{"period": period.label, "unit": u.code, "indicator": i.code}
                  for u in catalogue.units_in(period, scheme) for i in catalogue.applicable(u)])


def load_period(settings: Settings, period: Period) -> dict:
    """Staging → core for one period, in one transaction (a failure leaves the warehouse as it was)."""
    catalogue = catalogue_of(settings)
    prepare_warehouse(settings)
    with transaction(settings.warehouse_url) as conn:
        warehouse.lock_for_writing(conn)
        _refresh_reference(conn, catalogue, period, settings)
        execute_file(conn, "models/core_submission", period=period.label)
        execute_file(conn, "models/core_unit_indicator", period=period.label)
        (counts,) = query(conn, "queries/load_counts", p=period.label)
    summary = {"period": period.label, "submissions": counts["submissions"], "figures": counts["figures"]}
    log.info("loaded %s", summary)
    return summary


# ref_period_unit_key first: the year-to-date models count old units under their successors.
MART_MODELS = ("models/ref_period_unit_key", "models/mart_unit_kpi_monthly", "models/mart_area_kpi_monthly",
               "models/mart_submission_status")


def aggregate_period(settings: Settings, period: Period) -> dict:
    """Core → marts for the period, and again for later periods of its year already aggregated
    (their year-to-date totals include this month), and the roll-ups (quarters, half-years, the
    year) already computed that include it or end later in its year. One transaction."""
    from .rollups import refresh_rollups_after

    prepare_warehouse(settings)
    with transaction(settings.warehouse_url) as conn:
        warehouse.lock_for_writing(conn)
        later = [r["period"] for r in query(conn, "queries/later_aggregated_periods", p=period.label,
                                            year_end=f"{period.year}-12")]
        for label in [period.label, *later]:
            p = Period.parse(label)
            for model in MART_MODELS:
                execute_file(conn, model, period=p.label, year=p.year, year_start=p.year_to_date()[0].label)
        rollups = refresh_rollups_after(conn, period)
        status = {r["status"]: r["units"] for r in query(conn, "queries/submission_status_counts", p=period.label)}
        (area,) = query(conn, "queries/area_kpi_counts", p=period.label)
    summary = {"period": period.label, "status": status, "indicators": area["indicators"],
               "indicators_meeting_target": int(area["meeting_target"] or 0), "refreshed_later_periods": later,
               "refreshed_rollups": rollups}
    log.info("aggregated %s", summary)
    return summary


# --- waiting for submissions and late files ----------------------------------------------------


def submission_progress(settings: Settings, period: Period, now: datetime | None = None) -> dict:
    """Which units that must report have a valid submission so far, and whether the deadline passed."""
    ingest_shared_drive(settings)
    validate_period(settings, period)
    catalogue = catalogue_of(settings)
    with transaction(settings.warehouse_url) as conn:
        received = {r["unit_code"] for r in warehouse.query(conn, "queries/units_with_valid_submission",
                                                           period=period.label)}
    expected = catalogue.units_in(period, settings.period_scheme)
    missing = [[u.code, u.name] for u in expected if u.code not in received]
    deadline = period.deadline(settings.period_scheme, settings.deadline_workdays)
    progress = {"period": period.label, "expected": len(expected), "received": len(expected) - len(missing),
                "missing": missing, "deadline": deadline.isoformat(),
                "deadline_passed": deadline_passed(settings, period, now)}
    log.info("submissions for %s: %d/%d, deadline %s; missing: %s", period.label, progress["received"],
             progress["expected"], deadline.isoformat(), ", ".join(code for code, _ in missing) or "none")
    return progress


def periods_to_rerun(settings: Settings) -> list[str]:
    """Periods already reported that have a file version (late or corrected) first seen after their
    last validation began, whichever run's ingest recorded it."""
    ingest_shared_drive(settings)
    with transaction(settings.warehouse_url) as conn:
        return [r["period"] for r in warehouse.query(conn, "queries/periods_with_newer_files")]


def deadline_passed(settings: Settings, period: Period, now: datetime | None = None) -> bool:
    return (now or datetime.now(LOCAL_TZ)) >= period.deadline(settings.period_scheme, settings.deadline_workdays)


def report_period(settings: Settings, period: Period) -> dict:
    from .reports import write_monthly_report

    catalogue = catalogue_of(settings)
    with transaction(settings.warehouse_url) as conn:
        return write_monthly_report(conn, period, settings, catalogue)


# --- the portal ----------------------------------------------------------------------------------


def portal_units(settings: Settings, period: Period) -> list[str]:
    """Units whose dossiers are fetched for the period; none, with a one-line notice, without a portal."""
    if not settings.portal_url:
        log.info("portal not configured (no TTHC_PORTAL_URL or tthc_portal connection): portal source skipped")
        return []
    return [u.code for u in catalogue_of(settings).units_in(period, settings.period_scheme)]


def run_portal(settings: Settings, period: Period) -> dict:
    """Every unit's dossiers (a quarantined unit does not stop the others), then the portal figures
    and the reconciliation with the self-reports. A portal that refuses or fails raises PortalError."""
    from .dossiers import PortalBatchQuarantined, compute_portal_indicators, ingest_portal_unit, reconcile

    units = portal_units(settings, period)
    if not units:
        return {"period": period.label, "skipped": True}
    outcomes = {}
    for unit in units:
        try:
            outcomes[unit] = ingest_portal_unit(settings, period, unit)["outcome"]
        except PortalBatchQuarantined as exc:
            log.warning("%s", exc)
            outcomes[unit] = "quarantined"
    return {"period": period.label, "units": outcomes,
            "indicators": compute_portal_indicators(settings, period), "reconciliation": reconcile(settings, period)}


def run_period(settings: Settings, period: Period) -> dict:
    """The whole pipeline for one period (what `tthc run` does)."""
    summary = {
        "ingest": ingest_shared_drive(settings),
        "validate": validate_period(settings, period),
        "load": load_period(settings, period),
    }
    summary["portal"] = run_portal(settings, period)
    summary["aggregate"] = aggregate_period(settings, period)
    summary["report"] = report_period(settings, period)
    return summary

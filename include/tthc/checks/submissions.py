"""Great Expectations validation of parsed submissions (suite: include/expectations/submission_rows.json).

The suite holds the rules and the clerk-facing Vietnamese reason of each; this module builds the
frame the suite runs on, binds the catalogue as suite parameters, and turns failures into reasons
that name the cell or row.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from .. import warehouse
from ..calendar import DEFAULT_CALENDAR, ReportingCalendar
from ..catalogue import Catalogue, load_catalogue
from ..periods import Period
from ..settings import Settings
from ..sources.shared_drive.cells import COUNT_PATTERN, count_value, rate_deviation
from ..storage import write_atomic
from ..warehouse import execute_file, execute_many, now_local, transaction
from . import failing_groups, run_suite

SUITE_NAME = "submission_rows"
log = logging.getLogger(__name__)


@dataclass
class ValidationOutcome:
    accepted: bool
    reasons: list[str]
    expectations_total: int
    expectations_failed: int
    result: dict  # the GX result as JSON, kept in the archive


def submission_frame(submission: dict, rows: list[dict], catalogue: Catalogue, period: Period):
    """The frame the suite checks: one row per table row, with canonical codes and cell references.

    `submission` is a stg_submission row; `rows` its stg_submission_row rows (cells as JSON).
    Columns absent from the workbook stay absent so the suite reports them missing.
    """
    found = _columns_found(submission)
    return _frame(_records(submission, rows, catalogue, period, found), found)


def _columns_found(submission: dict) -> set[str]:
    return set(json.loads(submission.get("columns_found") or "[]"))


def _records(submission: dict, rows: list[dict], catalogue: Catalogue, period: Period, found: set[str]) -> list[dict]:
    records = []
    for r in _drop_alias_repeats(rows, catalogue):
        cells = json.loads(r["cells"]) if isinstance(r["cells"], str) else r["cells"]
        num, den = count_value(r["numerator_text"] or ""), count_value(r["denominator_text"] or "")
        # An unreadable stated rate never gets here: the parser rejects the file.
        deviation = rate_deviation(r["rate"], num, den)
        rec = {
            "row_key": r["row_number"],
            "row_ref": r["row_ref"],
            "period": period.label,
            "unit_code": submission["unit_code"],
            "cell_unit": submission.get("unit_cell") or "",
            "indicator_code": catalogue.canonical_code(r["indicator_code"]),
            "code_as_written": r["indicator_code"],
            "cell_indicator_code": cells.get("indicator_code", r["row_ref"]),
            "numerator_value": num,
            "denominator_value": den,
            "cell_numerator": cells.get("numerator", r["row_ref"]),
            "cell_denominator": cells.get("denominator", r["row_ref"]),
            "rate_text": r.get("rate_text") or "",
            "cell_rate": cells.get("rate", r["row_ref"]),
            "rate_deviation": deviation,
            "rate_expected": _fmt_pct(100.0 * num / den) if num is not None and den else "",
        }
        if "numerator" in found:
            rec["numerator"] = r["numerator_text"] or ""
        if "denominator" in found:
            rec["denominator"] = r["denominator_text"] or ""
        records.append(rec)
    return records


def _frame(records: list[dict], found: set[str]):
    import pandas as pd

    frame = pd.DataFrame.from_records(records)
    if frame.empty:
        frame = pd.DataFrame(columns=["row_key", "unit_code", "indicator_code", "numerator", "denominator"])
    for col in ("numerator_value", "denominator_value"):
        if col in frame:
            frame[col] = frame[col].astype("Float64")
    if "indicator_code" not in found and "indicator_code" in frame:
        frame = frame.drop(columns=["indicator_code"])
    return frame


def _drop_alias_repeats(rows: list[dict], catalogue: Catalogue) -> list[dict]:
    """NQ02-5 written beside NQ01-5 with the same figures is one figure, not a duplicate."""
    by_code = {r["indicator_code"]: r for r in rows}
    out = []
    for r in rows:
        original = catalogue.indicators.get(r["indicator_code"])
        twin = by_code.get(original.alias_of) if original and original.alias_of else None
        if twin and (twin["numerator_text"], twin["denominator_text"]) == (r["numerator_text"], r["denominator_text"]):
            continue
        out.append(r)
    return out


def _fmt_pct(x: float) -> str:
    return f"{x:.1f}".replace(".", ",")


def _parameters(catalogue: Catalogue, period: Period, calendar: ReportingCalendar, unit_code: str | None) -> dict:
    return {
        "known_units": sorted(catalogue.units),
        "units_in_period": sorted(u.code for u in catalogue.units_in(period, calendar)),
        "known_indicators": sorted(catalogue.indicators),
        "applicable_indicators": _applicable(catalogue, unit_code),
        "count_pattern": COUNT_PATTERN,  # the parser's rule, so the two can never disagree
    }


def _applicable(catalogue: Catalogue, unit_code: str | None) -> list[str]:
    unit = catalogue.units.get(unit_code or "")
    # An unknown unit has no applicable indicators; its rows are reported once, under the unit.
    return sorted(catalogue.self_reportable(unit)) if unit else sorted(catalogue.indicators)


def validate_submission(submission: dict, rows: list[dict], catalogue: Catalogue, period: Period,
                        calendar: ReportingCalendar = DEFAULT_CALENDAR) -> ValidationOutcome:
    frame = submission_frame(submission, rows, catalogue, period)
    result, reasons = run_suite(SUITE_NAME, frame, _parameters(catalogue, period, calendar, submission["unit_code"]))
    failed = sum(1 for r in result.results if not r.success)
    return ValidationOutcome(
        accepted=bool(result.success) and not reasons,
        reasons=reasons,
        expectations_total=len(result.results),
        expectations_failed=failed,
        result=result.to_json_dict(),
    )


# The suite's per-file rules that a concatenation of files cannot check row by row.
_TABLE_COLUMNS = {"indicator_code", "numerator", "denominator"}


def validate_submissions(submissions: list[tuple[dict, list[dict]]], catalogue: Catalogue, period: Period,
                         calendar: ReportingCalendar = DEFAULT_CALENDAR) -> tuple[dict[str, ValidationOutcome], dict]:
    """validate_submission for a period's files ((stg_submission row, its rows) pairs) at the cost of
    about one GX run: the outcome of each file by file_hash, and the GX result of the run together.

    Files with all three columns and a row are checked together, each row's indicator code paired with
    its file ("hash→code"): the in-set parameters pair it with every file (known) or with the file's
    unit's indicators (applicable), and uniqueness holds per file, so a row passes together exactly
    when it passes in its file's own run. A file failing together, or lacking a column or every row
    (table rules), is checked alone by validate_submission, for its reasons naming its cells. A file
    accepted together has, as its result, the run's (kept once for the run)."""
    together, alone, known, applicable = [], [], [], []
    applicable_to: dict[str, list[str]] = {}  # by unit code
    for submission, rows in submissions:
        found = _columns_found(submission)
        records = _records(submission, rows, catalogue, period, found) if _TABLE_COLUMNS <= found else []
        if not records:
            alone.append((submission, rows))
            continue
        digest, unit_code = submission["file_hash"], submission["unit_code"]
        if unit_code not in applicable_to:
            applicable_to[unit_code] = _applicable(catalogue, unit_code)
        known += [f"{digest}\u2192{code}" for code in catalogue.indicators]
        applicable += [f"{digest}\u2192{code}" for code in applicable_to[unit_code]]
        for rec in records:
            rec["file_hash"] = digest
            if isinstance(rec["indicator_code"], str):
                rec["indicator_code"] = f"{digest}\u2192{rec['indicator_code']}"
        together.append((submission, rows, records))
    outcomes, run = {}, {}
    if together:
        frame = _frame([rec for *_, records in together for rec in records], _TABLE_COLUMNS)
        frame["row_key"] = range(len(frame))
        parameters = dict(_parameters(catalogue, period, calendar, None),
                          known_indicators=known, applicable_indicators=applicable)
        failing, result = failing_groups(SUITE_NAME, frame, parameters, "file_hash")
        run = {"suite": SUITE_NAME, "period": period.label,
               "file_hashes": [s["file_hash"] for s, *_ in together], "result": result.to_json_dict()}
        for submission, rows, _records_ in together:
            if submission["file_hash"] in failing:
                alone.append((submission, rows))
            else:
                outcomes[submission["file_hash"]] = ValidationOutcome(True, [], len(result.results), 0, run["result"])
    for submission, rows in alone:
        outcomes[submission["file_hash"]] = validate_submission(submission, rows, catalogue, period, calendar)
    return outcomes, run


def write_result(outcome: ValidationOutcome, path: Path) -> Path:
    """The GX result as JSON in the archive, whole or not at all (StorageError when it cannot be written)."""
    return write_atomic(path, json.dumps(outcome.result, ensure_ascii=False, indent=1, default=str))


def misplaced_reasons(submission: dict, paths: list[str], catalogue: Catalogue) -> list[str]:
    """Where the office binds units to folders (units.csv share_folder): a file naming one unit that
    was only ever seen in another unit's folder is that other unit's doing, and is rejected naming
    both. A copy seen anywhere else (its own folder, or an unbound one) keeps the version valid:
    another unit copying a real file into its folder must not get it rejected."""
    unit = submission["unit_code"] or ""
    owners = [(path, catalogue.folder_owner(path)) for path in sorted(paths)]
    if not owners or any(owner is None or owner[0].code == unit for _path, owner in owners):
        return []
    path, (owner, folder) = owners[0]
    named = catalogue.units.get(unit)
    log.warning("file %s in %s's folder names unit %s: rejected", path, owner.code, unit)
    return [f'Tệp "{path}" nằm trong thư mục "{folder}" của đơn vị {owner.code} ({owner.name}) nhưng '
            f'ghi mã đơn vị {unit}{f" ({named.name})" if named else ""} ở ô {submission.get("unit_cell") or "?"}; '
            "mỗi đơn vị chỉ gửi báo cáo của chính mình vào thư mục của mình"]


def validate_period(settings: Settings, period: Period) -> dict:
    """Run the Great Expectations suite on every parsed submission of the period.

    Files rejected while parsing keep their reasons; files whose period could not be read are
    counted in the period during whose collection window they appeared on the share.
    """
    catalogue = load_catalogue(settings)
    warehouse.prepare(settings)
    started = now_local()
    calendar = settings.calendar
    window_start = calendar.deadline(period.shift(-1)).end.isoformat()
    window_end = calendar.deadline(period).end.isoformat()
    with transaction(settings.warehouse_url) as conn:
        subs = warehouse.query(conn, "queries/submissions_to_validate", period=period.label,
                               window_start=window_start, window_end=window_end)
        rows = warehouse.query(conn, "queries/submission_rows_of_period", period=period.label)
        sightings = warehouse.query(conn, "queries/file_paths_of_period", period=period.label)
    rows_by_hash: dict[str, list[dict]] = {}
    for r in rows:
        rows_by_hash.setdefault(r["file_hash"], []).append(r)
    paths_by_hash: dict[str, list[str]] = {}
    for o in sightings:
        paths_by_hash.setdefault(o["file_hash"], []).append(o["path"])
    parsed = [(sub, rows_by_hash.get(sub["file_hash"], [])) for sub in subs if sub["parse_outcome"] == "parsed"]
    outcomes, run = validate_submissions(parsed, catalogue, period, calendar)
    run_path = None
    if run:  # the run of the files checked together, once: its name is its files' (a re-run rewrites it)
        digest = hashlib.sha256("\n".join([period.label, *sorted(run["file_hashes"])]).encode()).hexdigest()[:32]
        run_path = write_atomic(settings.archive_dir / "validations" / f"run-{digest}.json",
                                json.dumps(run, ensure_ascii=False, indent=1, default=str))
    results, accepted, rejected = [], 0, 0
    for sub in subs:
        if sub["parse_outcome"] == "parsed":
            outcome = outcomes[sub["file_hash"]]
            if outcome.result is run.get("result"):  # accepted together: the run's result
                result_path = run_path
            else:
                result_path = write_result(outcome, settings.archive_dir / "validations" / f"{sub['file_hash']}.json")
            misplaced = misplaced_reasons(sub, paths_by_hash.get(sub["file_hash"], []), catalogue)
            reasons, ok = misplaced + outcome.reasons, outcome.accepted and not misplaced
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

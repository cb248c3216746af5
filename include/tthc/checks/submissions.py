"""Great Expectations validation of parsed submissions (suite: include/expectations/submission_rows.json).

The suite holds the rules and the clerk-facing Vietnamese reason of each; this module builds the
frame the suite runs on, binds the catalogue as suite parameters, and turns failures into reasons
that name the cell or row.
"""

from __future__ import annotations

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
from . import run_suite

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
    import pandas as pd

    found = set(json.loads(submission.get("columns_found") or "[]"))
    rows = _drop_alias_repeats(rows, catalogue)
    records = []
    for r in rows:
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


def validate_submission(submission: dict, rows: list[dict], catalogue: Catalogue, period: Period,
                        calendar: ReportingCalendar = DEFAULT_CALENDAR) -> ValidationOutcome:
    frame = submission_frame(submission, rows, catalogue, period)
    unit = catalogue.units.get(submission["unit_code"] or "")
    parameters = {
        "known_units": sorted(catalogue.units),
        "units_in_period": sorted(u.code for u in catalogue.units_in(period, calendar)),
        "known_indicators": sorted(catalogue.indicators),
        # An unknown unit has no applicable indicators; its rows are reported once, under the unit.
        "applicable_indicators": sorted(catalogue.self_reportable(unit)) if unit else sorted(catalogue.indicators),
        "count_pattern": COUNT_PATTERN,  # the parser's rule, so the two can never disagree
    }
    result, reasons = run_suite(SUITE_NAME, frame, parameters)
    failed = sum(1 for r in result.results if not r.success)
    return ValidationOutcome(
        accepted=bool(result.success) and not reasons,
        reasons=reasons,
        expectations_total=len(result.results),
        expectations_failed=failed,
        result=result.to_json_dict(),
    )


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
    results, accepted, rejected = [], 0, 0
    for sub in subs:
        if sub["parse_outcome"] == "parsed":
            outcome = validate_submission(sub, rows_by_hash.get(sub["file_hash"], []), catalogue, period, calendar)
            result_path = settings.archive_dir / "validations" / f"{sub['file_hash']}.json"
            write_result(outcome, result_path)
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

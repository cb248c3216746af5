"""Great Expectations validation of parsed submissions (suite: include/expectations/submission_rows.json).

The suite holds the rules and the clerk-facing Vietnamese reason of each; this module builds the
frame the suite runs on, binds the catalogue as suite parameters, and turns failures into reasons
that name the cell or row.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .catalogue import Catalogue
from .periods import Period
from .settings import EXPECTATIONS_DIR
from .textnorm import count_value, rate_deviation

SUITE_NAME = "submission_rows"


@dataclass
class ValidationOutcome:
    accepted: bool
    reasons: list[str]
    expectations_total: int
    expectations_failed: int
    result: dict  # the GX result as JSON, kept in the archive


def load_suite_dict(name: str = SUITE_NAME) -> dict:
    return json.loads((EXPECTATIONS_DIR / f"{name}.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=4)
def _validation_definition(name: str = SUITE_NAME):
    import great_expectations as gx  # heavy (≈2 s): imported only when validating

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    batch = (context.data_sources.add_pandas(f"{name}_source")
             .add_dataframe_asset(f"{name}_rows")
             .add_batch_definition_whole_dataframe("whole_frame"))
    suite = context.suites.add(gx.ExpectationSuite(**load_suite_dict(name)))
    definition = gx.ValidationDefinition(name=f"{name}_validation", data=batch, suite=suite)
    return context.validation_definitions.add(definition)


def run_suite(name: str, frame, parameters: dict):
    """Run a stored suite on a frame keyed by `row_key`: the GX result and its Vietnamese reasons."""
    result = _validation_definition(name).run(
        batch_parameters={"dataframe": frame},
        expectation_parameters=parameters,
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["row_key"]},
    )
    return result, ([] if result.success else _reasons(result, frame))


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
                        scheme: str = "decree09") -> ValidationOutcome:
    frame = submission_frame(submission, rows, catalogue, period)
    unit = catalogue.units.get(submission["unit_code"] or "")
    parameters = {
        "known_units": sorted(catalogue.units),
        "units_in_period": sorted(u.code for u in catalogue.units_in(period, scheme)),
        "known_indicators": sorted(catalogue.indicators),
        # An unknown unit has no applicable indicators; its rows are reported once, under the unit.
        "applicable_indicators": sorted(catalogue.self_reportable(unit)) if unit else sorted(catalogue.indicators),
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


def _reasons(result, frame) -> list[str]:
    """One Vietnamese reason per failing cell, in suite order (the first rule broken names a cell)."""
    rows_by_key = {rec["row_key"]: rec for rec in frame.to_dict("records")} if not frame.empty else {}
    columns = set(frame.columns)
    reasons, seen_cells = [], set()
    for r in result.results:
        if r.success:
            continue
        cfg = r.expectation_config
        template = (cfg.meta or {}).get("reason_vi", cfg.type)
        kwargs = cfg.kwargs
        needed = [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]
        error = _raised(r.exception_info)
        if error:
            # A rule on a column the table lacks: the missing column is already reported.
            if any(c not in columns for c in needed):
                continue
            reasons.append(f"Lỗi kiểm tra {cfg.type}: {error}")
            continue
        index_list = (r.result or {}).get("unexpected_index_list")
        if not index_list:
            reasons.append(template)
            continue
        for entry in index_list:
            key = entry.get("row_key") if isinstance(entry, dict) else entry
            row = rows_by_key.get(key, {})
            value = entry.get(needed[0]) if isinstance(entry, dict) and needed else None
            text = _format(template, row, value)
            cell_key = (text.split(":")[0], needed[0] if needed else "")
            if cell_key in seen_cells:
                continue
            seen_cells.add(cell_key)
            reasons.append(text)
            if (cfg.meta or {}).get("once"):
                break
    return reasons


def _raised(info) -> str | None:
    """GX 1.x keeps exceptions either flat or keyed by metric id; the first message raised, if any."""
    if not info:
        return None
    entries = [info] if "raised_exception" in info else list(info.values())
    for entry in entries:
        if isinstance(entry, dict) and entry.get("raised_exception"):
            return entry.get("exception_message") or "exception"
    return None


def _format(template: str, row: dict, value) -> str:
    fields = {k: ("" if v is None or (isinstance(v, float) and math.isnan(v)) else _plain(v)) for k, v in row.items()}
    fields["value"] = "" if value is None else _plain(value)
    try:
        return template.format(**fields)
    except (KeyError, IndexError):
        return template


def _plain(v) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def write_result(outcome: ValidationOutcome, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(outcome.result, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    return path

"""Checks: the Great Expectations suites in include/expectations/ run on staged frames.

The suites hold the rules and the clerk-facing Vietnamese reason of each (`meta.reason_vi`); this
package loads them, runs them and turns failures into reasons that name the cell, row or dossier.
"""

from __future__ import annotations

import json
import logging
import math
from functools import lru_cache

from ..settings import EXPECTATIONS_DIR


def load_suite_dict(name: str) -> dict:
    return json.loads((EXPECTATIONS_DIR / f"{name}.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=4)
def validation_definition(name: str):
    _quiet_gx_logs()
    import great_expectations as gx  # heavy (≈2 s): imported only when validating

    _quiet_gx_logs()  # some of its modules set their own logger to INFO when imported
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    batch = (context.data_sources.add_pandas(f"{name}_source")
             .add_dataframe_asset(f"{name}_rows")
             .add_batch_definition_whole_dataframe("whole_frame"))
    suite = context.suites.add(gx.ExpectationSuite(**load_suite_dict(name)))
    definition = gx.ValidationDefinition(name=f"{name}_validation", data=batch, suite=suite)
    return context.validation_definitions.add(definition)


def _quiet_gx_logs() -> None:
    """GX logs its own workings at INFO (200-odd lines per task log): keep its warnings and errors."""
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if name.startswith("great_expectations.") and isinstance(logger, logging.Logger) and logger.level:
            logger.setLevel(max(logger.level, logging.WARNING))


def run_suite(name: str, frame, parameters: dict):
    """Run a stored suite on a frame keyed by `row_key`: the GX result and its Vietnamese reasons."""
    result = validation_definition(name).run(
        batch_parameters={"dataframe": frame},
        expectation_parameters=parameters,
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["row_key"]},
    )
    return result, ([] if result.success else _reasons(result, frame))


def failing_groups(name: str, frame, parameters: dict, group_column: str) -> tuple[set, object]:
    """One run of a stored suite over several groups' rows together (files, units: `group_column`
    names each row's group; `row_key` is unique across the frame): the groups holding a row that some
    expectation rejects, and the GX result. An expectation failing for the frame as a whole (a missing
    column, an error, a table rule) names no rows: then every group is returned, to be checked alone.

    GX spends a fixed ≈0.1–0.5 s per run (each expectation's configuration and metric graph) whatever
    the rows, so groups checked one by one pay it once each; together, once. The caller makes each
    row pass together exactly when it passes in its own group's run (e.g. by pairing the values of a
    rule whose parameter depends on the group) and checks the failing groups alone, for their reasons.
    Run on the definition's batch directly: nobody reads the verdict the context's in-memory results
    store would keep (and grow with) for each run."""
    definition = validation_definition(name)
    result = definition.batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(
        definition.suite, expectation_parameters=parameters,
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["row_key", group_column]})
    failing = set()
    for r in result.results:
        if r.success:
            continue
        index_list = (r.result or {}).get("unexpected_index_list")
        if _raised(r.exception_info) or not index_list:
            return set(frame[group_column]), result
        failing.update(entry[group_column] for entry in index_list)
    return failing, result


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

"""The dossier_batch suite on portal dossiers (include/expectations/dossier_batch.json): one
unit-period's batch, or several units' batches checked together. A batch is its columns
({field: [value, ...]}, as the portal stage reads them back), made into the frame the suite checks here."""

from __future__ import annotations

from contextlib import contextmanager

from . import run_suite, validation_definition

SUITE_NAME = "dossier_batch"
# The one rule that depends on the batch's unit: DonViXuLy must be in $unit_codes (the unit itself).
_UNIT_COLUMN = "DonViXuLy"


def batch_frame(columns: dict[str, list], unit_code: str):
    """The frame the suite checks for one unit-period: its columns, keyed by `row_key` (the row's
    place in the batch) and marked with the unit."""
    n = len(columns[_UNIT_COLUMN])
    return _frame({**columns, "row_key": range(n), "unit_code": [unit_code] * n})


def validate_batch(columns: dict[str, list], unit_code: str) -> list[str]:
    """Vietnamese reasons the batch breaks the dossier_batch suite; empty when it passes.

    The suite runs first with the cheapest result format (the verdict only: about half the cost of
    listing failing rows), on the definition's batch directly: the same suite and batch, without
    storing a verdict nobody reads in the context's in-memory results store (which grows with every
    unit). Only a failing batch runs it again, through the definition, to name the failing dossiers."""
    frame = batch_frame(columns, unit_code)
    if _verdict(frame, [unit_code]):
        return []
    result, reasons = run_suite(SUITE_NAME, frame, {"unit_codes": [unit_code]})
    return [] if result.success else reasons or ["Lô hồ sơ không đạt bộ kiểm tra dossier_batch"]


def validate_batches(batches: dict[str, dict[str, list]]) -> dict[str, list[str]]:
    """validate_batch for several units' batches ({unit_code: columns}) at the cost of about one run.

    GX spends a fixed ≈0.1–0.5 s per validation (each expectation's configuration and metric graph)
    whatever the rows, so the batches are checked together: one BOOLEAN_ONLY verdict over one frame
    of all their rows (built once from the columns: a frame per unit and their concatenation cost
    more than the verdict). The unit rule stays the suite's own: each row's DonViXuLy is paired with
    its batch's unit ("unit→DonViXuLy") and $unit_codes holds every "u→u", so a row passes exactly
    when it would in its own batch. A failing group is halved until the failing units stand alone;
    each of them then gets its own reasons, naming its rows, from validate_batch."""
    units = list(batches)
    if len(units) == 1:
        return {units[0]: validate_batch(batches[units[0]], units[0])}
    if not units or _verdict(_together(batches), [f"{u}\u2192{u}" for u in units]):
        return {u: [] for u in units}
    half = len(units) // 2
    return {**validate_batches({u: batches[u] for u in units[:half]}),
            **validate_batches({u: batches[u] for u in units[half:]})}


def _frame(columns: dict[str, list]):
    import pandas as pd

    # An empty column is text (object), not pandas' float64 default, as in a batch with rows.
    return pd.DataFrame({field: pd.Series(values, dtype=object if not len(values) else None)
                         for field, values in columns.items()})


def _together(batches: dict[str, dict[str, list]]):
    """One frame of several batches' rows, DonViXuLy paired with the row's unit. Only text is paired:
    a missing DonViXuLy stays missing (the not-null rule sees it) and a number stays a number (never
    in the set of texts), as in the unit's own batch."""
    together: dict[str, list] = {field: [] for field in next(iter(batches.values()))}
    units = []
    for unit, columns in batches.items():
        for field, values in columns.items():
            if field == _UNIT_COLUMN:
                values = [f"{unit}\u2192{v}" if isinstance(v, str) else v for v in values]
            together[field].extend(values)
        units.extend([unit] * len(columns[_UNIT_COLUMN]))
    return _frame({**together, "row_key": range(len(units)), "unit_code": units})


def _verdict(frame, unit_codes: list[str]) -> bool:
    definition = validation_definition(SUITE_NAME)
    with _unfingerprinted():
        return definition.batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(
            definition.suite, expectation_parameters={"unit_codes": unit_codes},
            result_format={"result_format": "BOOLEAN_ONLY"}).success


@contextmanager
def _unfingerprinted():
    """GX fingerprints every pandas batch below its HASH_THRESHOLD bytes (an md5 over pandas' hash of
    every cell, for the result's batch markers): half of a verdict's time, for a result nobody keeps.
    The threshold is 0 while a verdict runs; the runs that name failing rows keep their fingerprint.
    (GX 1.x reads the module constant when it loads a batch: great_expectations/execution_engine/
    pandas_execution_engine.py.)"""
    from great_expectations.execution_engine import pandas_execution_engine

    threshold = pandas_execution_engine.HASH_THRESHOLD
    pandas_execution_engine.HASH_THRESHOLD = 0
    try:
        yield
    finally:
        pandas_execution_engine.HASH_THRESHOLD = threshold

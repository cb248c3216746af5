"""The dossier_batch suite on portal dossiers (include/expectations/dossier_batch.json): one
unit-period's batch, or several units' batches checked together."""

from __future__ import annotations

from contextlib import contextmanager

from . import run_suite, validation_definition

SUITE_NAME = "dossier_batch"
# The one rule that depends on the batch's unit: DonViXuLy must be in $unit_codes (the unit itself).
_UNIT_COLUMN = "DonViXuLy"


def validate_batch(frame, unit_code: str) -> list[str]:
    """Vietnamese reasons the batch breaks the dossier_batch suite; empty when it passes.

    The suite runs first with the cheapest result format (the verdict only: about half the cost of
    listing failing rows), on the definition's batch directly: the same suite and batch, without
    storing a verdict nobody reads in the context's in-memory results store (which grows with every
    unit). Only a failing batch runs it again, through the definition, to name the failing dossiers."""
    if _verdict(frame, [unit_code]):
        return []
    result, reasons = run_suite(SUITE_NAME, frame, {"unit_codes": [unit_code]})
    return [] if result.success else reasons or ["Lô hồ sơ không đạt bộ kiểm tra dossier_batch"]


def validate_batches(frames: dict) -> dict[str, list[str]]:
    """validate_batch for several units' batches ({unit_code: frame}) at the cost of about one run.

    GX spends a fixed ≈0.1–0.5 s per validation (each expectation's configuration and metric graph)
    whatever the rows, so the batches are checked together: one BOOLEAN_ONLY verdict over their
    concatenation. The unit rule stays the suite's own: each row's DonViXuLy is paired with its
    batch's unit ("unit→DonViXuLy") and $unit_codes holds every "u→u", so a row passes exactly when it
    would in its own batch. A failing group is halved until the failing units stand alone; each of
    them then gets its own reasons, naming its rows, from validate_batch."""
    units = list(frames)
    if not units:
        return {}
    if len(units) == 1 or _verdict(_paired(frames), [f"{u}\u2192{u}" for u in units]):
        return {u: validate_batch(frames[u], u) if len(units) == 1 else [] for u in units}
    half = len(units) // 2
    return {**validate_batches({u: frames[u] for u in units[:half]}),
            **validate_batches({u: frames[u] for u in units[half:]})}


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


def _paired(frames: dict):
    import pandas as pd

    combined = pd.concat(frames.values(), ignore_index=True, copy=False)
    # Only text is paired: a missing DonViXuLy stays missing (the not-null rule sees it) and a number
    # stays a number (never in the set of texts), as in the unit's own batch.
    combined[_UNIT_COLUMN] = pd.Series([f"{u}\u2192{v}" if isinstance(v, str) else v for u, v in
                                        zip(combined["unit_code"], combined[_UNIT_COLUMN])], dtype=object)
    return combined

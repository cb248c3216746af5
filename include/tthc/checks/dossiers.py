"""The dossier_batch suite on one unit-period's portal dossiers (include/expectations/dossier_batch.json)."""

from __future__ import annotations

from . import run_suite, validation_definition

SUITE_NAME = "dossier_batch"


def validate_batch(frame, unit_code: str) -> list[str]:
    """Vietnamese reasons the batch breaks the dossier_batch suite; empty when it passes.

    The suite runs first with the cheapest result format (the verdict only: about half the cost of
    listing failing rows), on the definition's batch directly: the same suite and batch, without
    storing a verdict nobody reads in the context's in-memory results store (which grows with every
    unit). Only a failing batch runs it again, through the definition, to name the failing dossiers."""
    parameters = {"unit_codes": [unit_code]}
    definition = validation_definition(SUITE_NAME)
    verdict = definition.batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(
        definition.suite, expectation_parameters=parameters, result_format={"result_format": "BOOLEAN_ONLY"})
    if verdict.success:
        return []
    result, reasons = run_suite(SUITE_NAME, frame, parameters)
    return [] if result.success else reasons or ["Lô hồ sơ không đạt bộ kiểm tra dossier_batch"]

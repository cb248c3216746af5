-- The (unit, indicator) pairs the period expects (one parameter set per pair).
INSERT INTO ref_period_unit_indicator (period, unit_code, indicator_code)
VALUES (:period, :unit, :indicator);

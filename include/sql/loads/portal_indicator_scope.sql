-- The (unit, indicator) pairs the portal figures cover for the period (one parameter set per pair).
INSERT INTO portal_indicator_scope (period, unit_code, indicator_code)
VALUES (:period, :unit_code, :indicator_code);

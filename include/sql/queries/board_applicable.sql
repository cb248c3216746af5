-- Status board: which indicators each expected unit has to report in the period (a blank cell is
-- "not reported" only where the indicator applies to the unit).
SELECT unit_code, indicator_code
FROM ref_period_unit_indicator
WHERE period = :period
ORDER BY unit_code, indicator_code;

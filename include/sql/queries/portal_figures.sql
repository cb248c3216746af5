-- Figures counted from the portal's dossiers for one period, per unit and indicator.
SELECT unit_code, indicator_code, numerator, denominator
FROM core_unit_indicator
WHERE period = :period AND source = 'portal'
ORDER BY unit_code, indicator_code;

-- Units whose self-reported rate differs from the portal's by more than the given number of percentage points
-- (the portal figure counts; the office checks the difference). 0/0 on either side is not compared.
SELECT p.unit_code, p.unit_name, p.indicator_code,
       p.numerator AS portal_numerator, p.denominator AS portal_denominator, p.value_pct AS portal_value_pct,
       d.numerator AS reported_numerator, d.denominator AS reported_denominator, d.value_pct AS reported_value_pct,
       d.file_path
FROM mart_unit_kpi_monthly p
JOIN mart_unit_kpi_monthly d
  ON d.period = p.period AND d.unit_code = p.unit_code
 AND d.indicator_code = p.indicator_code AND d.source = 'shared_drive'
WHERE p.period = :period AND p.source = 'portal'
  AND p.value_pct IS NOT NULL AND d.value_pct IS NOT NULL
  AND ABS(p.value_pct - d.value_pct) > :points
ORDER BY p.unit_code, p.indicator_code;

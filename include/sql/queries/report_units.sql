-- Each unit's counting figure per indicator: the portal's where it has one, else the self-report
-- (the same rule as the area total). Feeds "units below target" and the per-unit-type sheets.
SELECT m.unit_code, m.unit_name, m.unit_type, m.indicator_code, m.numerator, m.denominator,
       m.value_pct, m.target_pct, m.comparator, m.meets_target,
       m.ytd_numerator, m.ytd_denominator, m.ytd_value_pct, m.ytd_meets_target, m.ytd_predecessor_units,
       m.source, m.file_path, m.file_row
FROM mart_unit_kpi_monthly m
WHERE m.period = :period
  AND (m.source = 'portal' OR NOT EXISTS (
        SELECT 1 FROM mart_unit_kpi_monthly p
        WHERE p.period = m.period AND p.unit_code = m.unit_code
          AND p.indicator_code = m.indicator_code AND p.source = 'portal'))
ORDER BY m.unit_code, m.indicator_code;

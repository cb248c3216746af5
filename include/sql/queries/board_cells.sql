-- Status board: the heat-map's cells, each unit's counting figure per indicator (the portal's where
-- it has one, else the self-report: the same rule as the area total). No row: not reported.
SELECT m.unit_code, m.indicator_code, m.numerator, m.denominator, m.value_pct, m.target_pct,
       m.comparator, m.meets_target, m.source
FROM mart_unit_kpi_monthly m
WHERE m.period = :period
  AND (m.source = 'portal' OR NOT EXISTS (
        SELECT 1 FROM mart_unit_kpi_monthly p
        WHERE p.period = m.period AND p.unit_code = m.unit_code
          AND p.indicator_code = m.indicator_code AND p.source = 'portal'))
ORDER BY m.unit_code, m.indicator_code;

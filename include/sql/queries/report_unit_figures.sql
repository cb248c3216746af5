-- Section I of a unit's own report (from 2025-07 each new commune issues one): one row per indicator
-- that applies to the unit in the period, shaped as report_area (units_reported 1 where the unit has
-- a figure, of 1 expected), from its counting figure: the portal's where it has one, else the self-report.
SELECT x.indicator_code, i.name_vi AS indicator_name,
       COALESCE(m.numerator, 0) AS numerator, COALESCE(m.denominator, 0) AS denominator, m.value_pct,
       t.target_pct, t.comparator, t.stretch_pct, m.meets_target,
       COALESCE(m.ytd_numerator, 0) AS ytd_numerator, COALESCE(m.ytd_denominator, 0) AS ytd_denominator,
       m.ytd_value_pct, m.ytd_meets_target,
       CASE WHEN m.unit_code IS NULL THEN 0 ELSE 1 END AS units_reported, 1 AS units_expected,
       m.source AS sources, p.period_scheme
FROM ref_period_unit_indicator x
JOIN ref_indicator i ON i.indicator_code = x.indicator_code
LEFT JOIN ref_period p ON p.period = x.period
LEFT JOIN ref_target t ON t.indicator_code = x.indicator_code AND t.year = :year
LEFT JOIN mart_unit_kpi_monthly m
  ON m.period = x.period AND m.unit_code = x.unit_code AND m.indicator_code = x.indicator_code
 AND (m.source = 'portal' OR NOT EXISTS (
        SELECT 1 FROM mart_unit_kpi_monthly q
        WHERE q.period = m.period AND q.unit_code = m.unit_code
          AND q.indicator_code = m.indicator_code AND q.source = 'portal'))
WHERE x.period = :period AND x.unit_code = :unit_code
ORDER BY x.indicator_code;

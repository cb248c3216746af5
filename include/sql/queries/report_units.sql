-- Each unit's counting figure per indicator: the one of the source of highest precedence where it
-- has several (the same rule as the area total). Feeds "units below target" and the per-unit-type sheets.
SELECT m.unit_code, m.unit_name, m.unit_type, m.indicator_code, m.numerator, m.denominator,
       m.value_pct, m.target_pct, m.comparator, m.meets_target,
       m.ytd_numerator, m.ytd_denominator, m.ytd_value_pct, m.ytd_meets_target, m.ytd_predecessor_units,
       m.source, m.file_path, m.file_row
FROM mart_unit_kpi_monthly m
WHERE m.period = :period AND {{ from_preferred_source('mart_unit_kpi_monthly', 'm') }}
ORDER BY m.unit_code, m.indicator_code;

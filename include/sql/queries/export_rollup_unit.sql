SELECT rollup_period, frequency, first_period, last_period, unit_code, unit_name, unit_type, unit_valid_to,
       indicator_code, numerator, denominator, value_pct, target_pct, comparator, meets_target, stretch_pct,
       meets_stretch, months_reported, predecessor_units, sources, period_scheme
FROM mart_unit_kpi_rollup
WHERE rollup_period = :period
ORDER BY unit_code, indicator_code;

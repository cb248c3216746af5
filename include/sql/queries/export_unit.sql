SELECT period, unit_code, unit_name, unit_type, indicator_code, numerator, denominator, value_pct, target_pct,
       comparator, meets_target, ytd_numerator, ytd_denominator, ytd_value_pct, ytd_meets_target, source,
       period_scheme, file_path, file_hash, file_row
FROM mart_unit_kpi_monthly
WHERE period = :period
ORDER BY unit_code, indicator_code, source;

SELECT a.period, a.indicator_code, a.indicator_name, a.numerator, a.denominator, a.value_pct, a.target_pct,
       a.comparator, a.stretch_pct, a.meets_target, a.units_reported, a.units_expected, a.ytd_numerator,
       a.ytd_denominator, a.ytd_value_pct, a.ytd_meets_target, a.sources, a.period_scheme
FROM mart_area_kpi_monthly a
JOIN ref_indicator i ON i.indicator_code = a.indicator_code
WHERE a.period = :period
ORDER BY i.display_order;

SELECT a.rollup_period, a.frequency, a.first_period, a.last_period, a.indicator_code, a.indicator_name,
       a.numerator, a.denominator, a.value_pct, a.target_pct, a.comparator, a.meets_target, a.stretch_pct,
       a.meets_stretch, a.units_reported, a.units_expected, a.unit_months_reported, a.unit_months_expected,
       a.months_aggregated, a.ytd_numerator, a.ytd_denominator, a.ytd_value_pct, a.ytd_meets_target, a.sources,
       a.period_scheme
FROM mart_area_kpi_rollup a
JOIN ref_indicator i ON i.indicator_code = a.indicator_code
WHERE a.rollup_period = :period
ORDER BY i.display_order;

-- The roll-up report's section I and TongHop sheet: the area's figure per indicator over the roll-up
-- period (mart_area_kpi_rollup), named like the monthly report's rows; ytd_* is the year to date at
-- the roll-up's last month, stretch_pct/meets_stretch the plan's end-of-year goal (the year only).
SELECT a.indicator_code, a.indicator_name, a.numerator, a.denominator, a.value_pct,
       a.target_pct, a.comparator, a.stretch_pct, a.meets_target, a.meets_stretch,
       a.ytd_numerator, a.ytd_denominator, a.ytd_value_pct, a.ytd_meets_target,
       a.units_reported, a.units_expected, a.unit_months_reported, a.unit_months_expected,
       a.months_aggregated, a.sources, a.period_scheme, a.first_period, a.last_period
FROM mart_area_kpi_rollup a
WHERE a.rollup_period = :rollup_period
ORDER BY a.indicator_code;

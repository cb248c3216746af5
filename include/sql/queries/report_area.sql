-- Section I of the monthly report and the TongHop sheet: the area's figure per indicator.
-- The report orders and names the rows by the catalogue; value_pct NULL means 0/0 ("không phát sinh").
SELECT a.indicator_code, a.indicator_name, a.numerator, a.denominator, a.value_pct,
       a.target_pct, a.comparator, a.stretch_pct, a.meets_target,
       a.ytd_numerator, a.ytd_denominator, a.ytd_value_pct, a.ytd_meets_target,
       a.units_reported, a.units_expected, a.sources, a.period_scheme
FROM mart_area_kpi_monthly a
WHERE a.period = :period
ORDER BY a.indicator_code;

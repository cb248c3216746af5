-- Status board: the heat-map's columns, the period's indicators in catalogue order, with the area
-- total (Σ numerators / Σ denominators) for the bottom row.
SELECT a.indicator_code, COALESCE(i.short_name_vi, a.indicator_name) AS short_name, a.indicator_name,
       a.numerator, a.denominator, a.value_pct, a.target_pct, a.comparator, a.meets_target,
       a.units_reported, a.units_expected
FROM mart_area_kpi_monthly a
LEFT JOIN ref_indicator i ON i.indicator_code = a.indicator_code
WHERE a.period = :period
ORDER BY COALESCE(i.display_order, 999999), a.indicator_code;

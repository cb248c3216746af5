-- The area's monthly rate per indicator from January to the report's last month (the month itself,
-- or a roll-up's last month) for the trend chart, with the units expected each month (a change marks
-- the reorganisation).
SELECT a.period, a.indicator_code, a.value_pct, a.units_expected
FROM mart_area_kpi_monthly a
WHERE a.period >= :year_start AND a.period <= :last_period
ORDER BY a.period, a.indicator_code;

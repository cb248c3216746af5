-- Status board: the quarters, half-years and years that have roll-up figures, newest first.
SELECT rollup_period, MIN(first_period) AS first_period, MAX(last_period) AS last_period
FROM mart_area_kpi_rollup
GROUP BY rollup_period
ORDER BY MAX(last_period) DESC, MIN(first_period) DESC;

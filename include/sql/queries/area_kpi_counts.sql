-- Indicators of the period's area marts, and how many meet their target.
SELECT COUNT(*) AS indicators, SUM(CASE WHEN meets_target THEN 1 ELSE 0 END) AS meeting_target
FROM mart_area_kpi_monthly WHERE period = :p;

-- How many distinct months between two periods have aggregated area marts.
SELECT COUNT(DISTINCT period) AS months FROM mart_area_kpi_monthly WHERE period >= :a AND period <= :b;

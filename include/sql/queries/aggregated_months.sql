-- Months between two periods whose area marts were aggregated.
SELECT DISTINCT period FROM mart_area_kpi_monthly WHERE period >= :a AND period <= :b;

SELECT DISTINCT period FROM mart_area_kpi_monthly ORDER BY period;

-- Periods of the same year after this one whose marts were already aggregated.
SELECT DISTINCT period FROM mart_area_kpi_monthly WHERE period > :p AND period <= :year_end
ORDER BY period;

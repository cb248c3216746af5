-- A roll-up's area indicators, and how many meet the target and the stretch (and are judged on it).
SELECT COUNT(*) AS indicators, SUM(CASE WHEN meets_target THEN 1 ELSE 0 END) AS meeting_target,
       SUM(CASE WHEN meets_stretch THEN 1 ELSE 0 END) AS stretch_met, COUNT(meets_stretch) AS stretch_judged
FROM mart_area_kpi_rollup WHERE rollup_period = :r;

-- A roll-up's units, and how many include predecessor units.
SELECT COUNT(DISTINCT unit_code) AS units,
       COUNT(DISTINCT CASE WHEN predecessor_units > 0 THEN unit_code END) AS with_predecessors
FROM mart_unit_kpi_rollup WHERE rollup_period = :r;

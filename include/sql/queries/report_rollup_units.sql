-- Each unit's figure over the roll-up period (mart_unit_kpi_rollup): units as of its last month, a
-- new commune including the old communes merged into it (predecessor_units > 0).
SELECT m.unit_code, m.unit_name, m.unit_type, m.unit_valid_to, m.indicator_code, m.numerator, m.denominator,
       m.value_pct, m.target_pct, m.comparator, m.meets_target, m.stretch_pct, m.meets_stretch,
       m.months_reported, m.predecessor_units, m.sources AS source
FROM mart_unit_kpi_rollup m
WHERE m.rollup_period = :rollup_period
ORDER BY m.unit_code, m.indicator_code;

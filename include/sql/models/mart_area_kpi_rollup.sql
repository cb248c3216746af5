-- A roll-up period for the area: Σnumerator/Σdenominator of the units' counting figures over the
-- months of the roll-up (the sum of the monthly area figures), except stocks (ytd_method 'latest',
-- NQ01-1): each unit's latest figure in the roll-up, counted under its successor across the
-- reorganisation and only for units that exist in the last month. The year compares with the
-- plan's end-of-year stretch targets (meets_stretch). The year to date is the last month's.
DELETE FROM mart_area_kpi_rollup WHERE rollup_period = :rollup_period;

INSERT INTO mart_area_kpi_rollup (
    rollup_period, frequency, first_period, last_period, indicator_code, indicator_name, numerator,
    denominator, value_pct, target_pct, comparator, meets_target, stretch_pct, meets_stretch,
    ytd_numerator, ytd_denominator, ytd_value_pct, ytd_meets_target, units_reported, units_expected,
    unit_months_reported, unit_months_expected, months_aggregated, sources, period_scheme)
SELECT p.rollup_period, p.frequency, p.first_period, p.last_period, e.indicator_code, i.name_vi,
       COALESCE(m.numerator, 0), COALESCE(m.denominator, 0),
       CASE WHEN m.denominator > 0 THEN 100.0 * m.numerator / m.denominator END,
       t.target_pct, t.comparator,
       CASE WHEN COALESCE(m.denominator, 0) = 0 OR t.target_pct IS NULL THEN NULL
            WHEN t.comparator = '=' THEN CAST(m.numerator * 100 AS DOUBLE PRECISION) = t.target_pct * m.denominator
            ELSE CAST(m.numerator * 100 AS DOUBLE PRECISION) >= t.target_pct * m.denominator END,
       t.stretch_pct,
       CASE WHEN p.frequency <> 'year' OR COALESCE(m.denominator, 0) = 0 OR t.stretch_pct IS NULL THEN NULL
            ELSE CAST(m.numerator * 100 AS DOUBLE PRECISION) >= t.stretch_pct * m.denominator END,
       COALESCE(y.ytd_numerator, 0), COALESCE(y.ytd_denominator, 0), y.ytd_value_pct, y.ytd_meets_target,
       COALESCE(m.units_reported, 0), e.units_expected, COALESCE(m.unit_months_reported, 0),
       e.unit_months_expected,
       (SELECT COUNT(DISTINCT ma.period) FROM mart_area_kpi_monthly ma
        WHERE ma.period >= :first_period AND ma.period <= :last_period),
       m.sources, p.period_scheme
FROM (
    SELECT indicator_code, COUNT(DISTINCT unit_code) AS units_expected, COUNT(*) AS unit_months_expected
    FROM ref_period_unit_indicator
    WHERE period >= :first_period AND period <= :last_period
    GROUP BY indicator_code
) e
JOIN ref_rollup_period p ON p.rollup_period = :rollup_period
JOIN ref_indicator i ON i.indicator_code = e.indicator_code
LEFT JOIN ref_target t ON t.indicator_code = e.indicator_code AND t.year = :year
LEFT JOIN (
    SELECT f.indicator_code,
           SUM(CASE WHEN i2.ytd_method = 'latest' AND (f.period <> l.last_period OR k.key_expected = 0) THEN 0
                    ELSE f.numerator END) AS numerator,
           SUM(CASE WHEN i2.ytd_method = 'latest' AND (f.period <> l.last_period OR k.key_expected = 0) THEN 0
                    ELSE f.denominator END) AS denominator,
           COUNT(DISTINCT f.unit_code) AS units_reported,
           COUNT(*) AS unit_months_reported,
           MIN(f.source) || CASE WHEN MIN(f.source) <> MAX(f.source) THEN ',' || MAX(f.source) ELSE '' END AS sources
    FROM core_effective_figure f
    JOIN ref_period_unit_indicator x
      ON x.period = f.period AND x.unit_code = f.unit_code AND x.indicator_code = f.indicator_code
    JOIN ref_period_unit_key k ON k.period = :last_period AND k.unit_code = f.unit_code
    JOIN ref_indicator i2 ON i2.indicator_code = f.indicator_code
    JOIN (
        SELECT k2.key_code, f2.indicator_code, MAX(f2.period) AS last_period
        FROM core_effective_figure f2
        JOIN ref_period_unit_indicator x2
          ON x2.period = f2.period AND x2.unit_code = f2.unit_code AND x2.indicator_code = f2.indicator_code
        JOIN ref_period_unit_key k2 ON k2.period = :last_period AND k2.unit_code = f2.unit_code
        WHERE f2.period >= :first_period AND f2.period <= :last_period
        GROUP BY k2.key_code, f2.indicator_code
    ) l ON l.key_code = k.key_code AND l.indicator_code = f.indicator_code
    WHERE f.period >= :first_period AND f.period <= :last_period
    GROUP BY f.indicator_code
) m ON m.indicator_code = e.indicator_code
LEFT JOIN (
    SELECT indicator_code, ytd_numerator, ytd_denominator, ytd_value_pct, ytd_meets_target
    FROM mart_area_kpi_monthly
    WHERE period = :last_period
) y ON y.indicator_code = e.indicator_code;

-- The area's rate is Σnumerator / Σdenominator over its units (never an average of rates), using
-- each unit's counting figure (core_effective_figure). Every indicator of the catalogue that applies
-- to some expected unit gets a row, reported or not; 0/0 leaves value_pct empty ("không phát sinh").
DELETE FROM mart_area_kpi_monthly WHERE period = :period;

INSERT INTO mart_area_kpi_monthly (
    period, indicator_code, indicator_name, numerator, denominator, value_pct, target_pct, comparator,
    stretch_pct, meets_target, units_reported, units_expected, ytd_numerator, ytd_denominator,
    ytd_value_pct, ytd_meets_target, sources, period_scheme)
SELECT e.period, e.indicator_code, i.name_vi,
       COALESCE(m.numerator, 0), COALESCE(m.denominator, 0),
       CASE WHEN m.denominator > 0 THEN 100.0 * m.numerator / m.denominator END,
       t.target_pct, t.comparator, t.stretch_pct,
       CASE WHEN COALESCE(m.denominator, 0) = 0 OR t.target_pct IS NULL THEN NULL
            WHEN t.comparator = '=' THEN CAST(m.numerator * 100 AS DOUBLE PRECISION) = t.target_pct * m.denominator
            ELSE CAST(m.numerator * 100 AS DOUBLE PRECISION) >= t.target_pct * m.denominator END,
       COALESCE(m.units_reported, 0), e.units_expected,
       COALESCE(y.ytd_numerator, 0), COALESCE(y.ytd_denominator, 0),
       CASE WHEN y.ytd_denominator > 0 THEN 100.0 * y.ytd_numerator / y.ytd_denominator END,
       CASE WHEN COALESCE(y.ytd_denominator, 0) = 0 OR t.target_pct IS NULL THEN NULL
            WHEN t.comparator = '=' THEN CAST(y.ytd_numerator * 100 AS DOUBLE PRECISION) = t.target_pct * y.ytd_denominator
            ELSE CAST(y.ytd_numerator * 100 AS DOUBLE PRECISION) >= t.target_pct * y.ytd_denominator END,
       m.sources, p.period_scheme
FROM (
    SELECT period, indicator_code, COUNT(*) AS units_expected
    FROM ref_period_unit_indicator
    WHERE period = :period
    GROUP BY period, indicator_code
) e
JOIN ref_period p ON p.period = e.period
JOIN ref_indicator i ON i.indicator_code = e.indicator_code
LEFT JOIN ref_target t ON t.indicator_code = e.indicator_code AND t.year = :year
LEFT JOIN (
    SELECT f.indicator_code, SUM(f.numerator) AS numerator, SUM(f.denominator) AS denominator,
           COUNT(DISTINCT f.unit_code) AS units_reported,
           MIN(f.source) || CASE WHEN MIN(f.source) <> MAX(f.source) THEN ',' || MAX(f.source) ELSE '' END AS sources
    FROM core_effective_figure f
    JOIN ref_period_unit_indicator x
      ON x.period = f.period AND x.unit_code = f.unit_code AND x.indicator_code = f.indicator_code
    WHERE f.period = :period
    GROUP BY f.indicator_code
) m ON m.indicator_code = e.indicator_code
LEFT JOIN (
    -- A stock ('latest') is each unit's latest figure, counted under its successor across the
    -- reorganisation, and only for units that exist in the period (the abolished departments'
    -- catalogues are not the area's any more); sums take every figure of the year.
    SELECT f.indicator_code,
           SUM(CASE WHEN i2.ytd_method = 'latest' AND (f.period <> l.last_period OR k.key_expected = 0) THEN 0
                    ELSE f.numerator END) AS ytd_numerator,
           SUM(CASE WHEN i2.ytd_method = 'latest' AND (f.period <> l.last_period OR k.key_expected = 0) THEN 0
                    ELSE f.denominator END) AS ytd_denominator
    FROM core_effective_figure f
    JOIN ref_period_unit_key k ON k.period = :period AND k.unit_code = f.unit_code
    JOIN ref_indicator i2 ON i2.indicator_code = f.indicator_code
    JOIN (
        SELECT k2.key_code, f2.indicator_code, MAX(f2.period) AS last_period
        FROM core_effective_figure f2
        JOIN ref_period_unit_key k2 ON k2.period = :period AND k2.unit_code = f2.unit_code
        WHERE f2.period >= :year_start AND f2.period <= :period
        GROUP BY k2.key_code, f2.indicator_code
    ) l ON l.key_code = k.key_code AND l.indicator_code = f.indicator_code
    WHERE f.period >= :year_start AND f.period <= :period
    GROUP BY f.indicator_code
) y ON y.indicator_code = e.indicator_code;

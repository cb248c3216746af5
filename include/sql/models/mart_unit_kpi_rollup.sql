-- A roll-up period (quarter, half-year, year) per unit and indicator, from the monthly core figures:
-- Σnumerator/Σdenominator over the months, except stocks (ytd_method 'latest', NQ01-1), which take
-- the latest month's figure. Units are those as of the roll-up's last month: an old commune merged
-- on 01/07/2025 counts under its successor (predecessor_units > 0 labels it); a unit abolished
-- without successor (the district departments) keeps its own row up to its last month.
-- Each unit's counting figure (portal over self-report), of the months it was expected in.
DELETE FROM mart_unit_kpi_rollup WHERE rollup_period = :rollup_period;

INSERT INTO mart_unit_kpi_rollup (
    rollup_period, frequency, first_period, last_period, unit_code, unit_name, unit_type, unit_valid_to,
    indicator_code, numerator, denominator, value_pct, target_pct, comparator, meets_target, stretch_pct,
    meets_stretch, months_reported, predecessor_units, sources, period_scheme)
SELECT p.rollup_period, p.frequency, p.first_period, p.last_period, a.key_code, u.name, u.unit_type, u.valid_to,
       a.indicator_code, a.numerator, a.denominator,
       CASE WHEN a.denominator > 0 THEN 100.0 * a.numerator / a.denominator END,
       t.target_pct, t.comparator,
       CASE WHEN a.denominator = 0 OR t.target_pct IS NULL THEN NULL
            WHEN t.comparator = '=' THEN CAST(a.numerator * 100 AS DOUBLE PRECISION) = t.target_pct * a.denominator
            ELSE CAST(a.numerator * 100 AS DOUBLE PRECISION) >= t.target_pct * a.denominator END,
       t.stretch_pct,
       CASE WHEN p.frequency <> 'year' OR a.denominator = 0 OR t.stretch_pct IS NULL THEN NULL
            ELSE CAST(a.numerator * 100 AS DOUBLE PRECISION) >= t.stretch_pct * a.denominator END,
       a.months_reported, a.predecessor_units, a.sources, p.period_scheme
FROM (
    SELECT k.key_code, f.indicator_code,
           SUM(CASE WHEN i.ytd_method = 'latest' AND f.period <> l.last_period THEN 0 ELSE f.numerator END) AS numerator,
           SUM(CASE WHEN i.ytd_method = 'latest' AND f.period <> l.last_period THEN 0 ELSE f.denominator END) AS denominator,
           COUNT(DISTINCT f.period) AS months_reported,
           COUNT(DISTINCT CASE WHEN f.unit_code <> k.key_code
                                AND NOT (i.ytd_method = 'latest' AND f.period <> l.last_period)
                               THEN f.unit_code END) AS predecessor_units,
           MIN(f.source) || CASE WHEN MIN(f.source) <> MAX(f.source) THEN ',' || MAX(f.source) ELSE '' END AS sources
    FROM core_effective_figure f
    JOIN ref_period_unit_indicator x
      ON x.period = f.period AND x.unit_code = f.unit_code AND x.indicator_code = f.indicator_code
    JOIN ref_period_unit_key k ON k.period = :last_period AND k.unit_code = f.unit_code
    JOIN ref_indicator i ON i.indicator_code = f.indicator_code
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
    GROUP BY k.key_code, f.indicator_code
) a
JOIN ref_rollup_period p ON p.rollup_period = :rollup_period
JOIN ref_unit u ON u.unit_code = a.key_code
LEFT JOIN ref_target t ON t.indicator_code = a.indicator_code AND t.year = :year;

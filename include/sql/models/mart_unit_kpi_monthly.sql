-- Per unit, indicator and source: the month's figure, its year-to-date total and the target.
-- Year to date sums the months of the reporting year, except stock indicators (ytd_method =
-- 'latest', e.g. the procedure catalogue NQ01-1) which take the latest month's figure.
-- Across the reorganisation a new commune's year to date includes the figures of the old communes
-- merged into it (ref_period_unit_key), and ytd_predecessor_units says how many there were.
DELETE FROM mart_unit_kpi_monthly WHERE period = :period;

INSERT INTO mart_unit_kpi_monthly (
    period, unit_code, unit_name, unit_type, indicator_code, numerator, denominator, value_pct,
    target_pct, comparator, meets_target, ytd_numerator, ytd_denominator, ytd_value_pct,
    ytd_meets_target, ytd_predecessor_units, source, period_scheme, file_path, file_hash, file_row)
SELECT m.period, m.unit_code, u.name, u.unit_type, m.indicator_code, m.numerator, m.denominator,
       CASE WHEN m.denominator > 0 THEN 100.0 * m.numerator / m.denominator END,
       t.target_pct, t.comparator,
       CASE WHEN m.denominator = 0 OR t.target_pct IS NULL THEN NULL
            WHEN t.comparator = '=' THEN CAST(m.numerator * 100 AS DOUBLE PRECISION) = t.target_pct * m.denominator
            ELSE CAST(m.numerator * 100 AS DOUBLE PRECISION) >= t.target_pct * m.denominator END,
       y.ytd_numerator, y.ytd_denominator,
       CASE WHEN y.ytd_denominator > 0 THEN 100.0 * y.ytd_numerator / y.ytd_denominator END,
       CASE WHEN y.ytd_denominator = 0 OR t.target_pct IS NULL THEN NULL
            WHEN t.comparator = '=' THEN CAST(y.ytd_numerator * 100 AS DOUBLE PRECISION) = t.target_pct * y.ytd_denominator
            ELSE CAST(y.ytd_numerator * 100 AS DOUBLE PRECISION) >= t.target_pct * y.ytd_denominator END,
       y.predecessor_units, m.source, p.period_scheme, cs.file_path, m.file_hash, m.file_row
FROM core_figure m
JOIN ref_period p ON p.period = m.period
JOIN ref_unit u ON u.unit_code = m.unit_code
JOIN ref_indicator i ON i.indicator_code = m.indicator_code
LEFT JOIN ref_target t ON t.indicator_code = m.indicator_code AND t.year = :year
LEFT JOIN core_submission cs ON cs.period = m.period AND cs.unit_code = m.unit_code AND cs.file_hash = m.file_hash
JOIN (
    SELECT k.key_code AS unit_code, f.indicator_code, f.source,
           SUM(CASE WHEN i2.ytd_method = 'latest' AND f.period <> l.last_period THEN 0 ELSE f.numerator END) AS ytd_numerator,
           SUM(CASE WHEN i2.ytd_method = 'latest' AND f.period <> l.last_period THEN 0 ELSE f.denominator END) AS ytd_denominator,
           COUNT(DISTINCT CASE WHEN f.unit_code <> k.key_code
                                AND NOT (i2.ytd_method = 'latest' AND f.period <> l.last_period)
                               THEN f.unit_code END) AS predecessor_units
    FROM core_figure f
    JOIN ref_period_unit_key k ON k.period = :period AND k.unit_code = f.unit_code
    JOIN ref_indicator i2 ON i2.indicator_code = f.indicator_code
    JOIN (
        SELECT k2.key_code, f2.indicator_code, f2.source, MAX(f2.period) AS last_period
        FROM core_figure f2
        JOIN ref_period_unit_key k2 ON k2.period = :period AND k2.unit_code = f2.unit_code
        WHERE f2.period >= :year_start AND f2.period <= :period
        GROUP BY k2.key_code, f2.indicator_code, f2.source
    ) l ON l.key_code = k.key_code AND l.indicator_code = f.indicator_code AND l.source = f.source
    WHERE f.period >= :year_start AND f.period <= :period
    GROUP BY k.key_code, f.indicator_code, f.source
) y ON y.unit_code = m.unit_code AND y.indicator_code = m.indicator_code AND y.source = m.source
WHERE m.period = :period;

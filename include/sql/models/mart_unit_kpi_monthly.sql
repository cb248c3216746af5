{{ config(refresh='period') }}
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
       {{ rate('m.numerator', 'm.denominator') }},
       t.target_pct, t.comparator,
       {{ meets_target('m.numerator', 'm.denominator') }},
       y.ytd_numerator, y.ytd_denominator,
       {{ rate('y.ytd_numerator', 'y.ytd_denominator') }},
       {{ meets_target('y.ytd_numerator', 'y.ytd_denominator') }},
       y.predecessor_units, m.source, p.period_scheme, cs.file_path, m.file_hash, m.file_row
FROM {{ ref('core_figure') }} m
JOIN ref_period p ON p.period = m.period
JOIN ref_unit u ON u.unit_code = m.unit_code
JOIN ref_indicator i ON i.indicator_code = m.indicator_code
LEFT JOIN ref_target t ON t.indicator_code = m.indicator_code AND t.year = :year
LEFT JOIN core_submission cs ON cs.period = m.period AND cs.unit_code = m.unit_code AND cs.file_hash = m.file_hash
JOIN (
    SELECT f.key_code AS unit_code, f.indicator_code, f.source,
           SUM(f.counts * f.numerator) AS ytd_numerator, SUM(f.counts * f.denominator) AS ytd_denominator,
           COUNT(DISTINCT CASE WHEN f.unit_code <> f.key_code AND f.counts = 1 THEN f.unit_code END) AS predecessor_units
    FROM ({{ figures_over_months(ref('core_figure'), ':year_start', ':period', ':period', per_source=true) }}) f
    GROUP BY f.key_code, f.indicator_code, f.source
) y ON y.unit_code = m.unit_code AND y.indicator_code = m.indicator_code AND y.source = m.source
WHERE m.period = :period;

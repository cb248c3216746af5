{{ config(refresh='period') }}
-- The area's rate is Σnumerator / Σdenominator over its units (never an average of rates), using
-- each unit's counting figure (core_effective_figure). Every indicator of the catalogue that applies
-- to some expected unit gets a row, reported or not; 0/0 leaves value_pct empty ("không phát sinh").
-- The year to date counts a stock ('latest') at each unit's latest figure, under its successor
-- across the reorganisation, and only for units that exist in the period (the abolished
-- departments' catalogues are not the area's any more); sums take every figure of the year.
DELETE FROM mart_area_kpi_monthly WHERE period = :period;

INSERT INTO mart_area_kpi_monthly (
    period, indicator_code, indicator_name, numerator, denominator, value_pct, target_pct, comparator,
    stretch_pct, meets_target, units_reported, units_expected, ytd_numerator, ytd_denominator,
    ytd_value_pct, ytd_meets_target, sources, period_scheme)
SELECT e.period, e.indicator_code, i.name_vi,
       COALESCE(m.numerator, 0), COALESCE(m.denominator, 0),
       {{ rate('m.numerator', 'm.denominator') }},
       t.target_pct, t.comparator, t.stretch_pct,
       {{ meets_target('m.numerator', 'm.denominator') }},
       COALESCE(m.units_reported, 0), e.units_expected,
       COALESCE(y.ytd_numerator, 0), COALESCE(y.ytd_denominator, 0),
       {{ rate('y.ytd_numerator', 'y.ytd_denominator') }},
       {{ meets_target('y.ytd_numerator', 'y.ytd_denominator') }},
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
           COUNT(DISTINCT f.unit_code) AS units_reported, {{ source_list('f.source') }} AS sources
    FROM {{ ref('core_effective_figure') }} f
    JOIN ref_period_unit_indicator x
      ON x.period = f.period AND x.unit_code = f.unit_code AND x.indicator_code = f.indicator_code
    WHERE f.period = :period
    GROUP BY f.indicator_code
) m ON m.indicator_code = e.indicator_code
LEFT JOIN (
    SELECT f.indicator_code, SUM(f.counts * f.numerator) AS ytd_numerator,
           SUM(f.counts * f.denominator) AS ytd_denominator
    FROM ({{ figures_over_months(ref('core_effective_figure'), ':year_start', ':period', ':period',
                                 stocks_of_existing_units_only=true) }}) f
    GROUP BY f.indicator_code
) y ON y.indicator_code = e.indicator_code;

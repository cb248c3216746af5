{{ config(refresh='rollup') }}
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
       {{ rate('m.numerator', 'm.denominator') }},
       t.target_pct, t.comparator,
       {{ meets_target('m.numerator', 'm.denominator') }},
       t.stretch_pct,
       {{ meets_stretch('m.numerator', 'm.denominator') }},
       COALESCE(y.ytd_numerator, 0), COALESCE(y.ytd_denominator, 0), y.ytd_value_pct, y.ytd_meets_target,
       COALESCE(m.units_reported, 0), e.units_expected, COALESCE(m.unit_months_reported, 0),
       e.unit_months_expected,
       (SELECT COUNT(DISTINCT ma.period) FROM {{ ref('mart_area_kpi_monthly') }} ma
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
    SELECT f.indicator_code, SUM(f.counts * f.numerator) AS numerator, SUM(f.counts * f.denominator) AS denominator,
           COUNT(DISTINCT f.unit_code) AS units_reported, COUNT(*) AS unit_months_reported,
           {{ source_list('f.source') }} AS sources
    FROM ({{ figures_over_months(ref('core_effective_figure'), ':first_period', ':last_period', ':last_period',
                                 expected_only=true, stocks_of_existing_units_only=true) }}) f
    GROUP BY f.indicator_code
) m ON m.indicator_code = e.indicator_code
LEFT JOIN (
    SELECT indicator_code, ytd_numerator, ytd_denominator, ytd_value_pct, ytd_meets_target
    FROM {{ ref('mart_area_kpi_monthly') }}
    WHERE period = :last_period
) y ON y.indicator_code = e.indicator_code;

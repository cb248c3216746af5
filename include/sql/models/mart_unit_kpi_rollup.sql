{{ config(refresh='rollup') }}
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
       {{ rate('a.numerator', 'a.denominator') }},
       t.target_pct, t.comparator,
       {{ meets_target('a.numerator', 'a.denominator') }},
       t.stretch_pct,
       {{ meets_stretch('a.numerator', 'a.denominator') }},
       a.months_reported, a.predecessor_units, a.sources, p.period_scheme
FROM (
    SELECT f.key_code, f.indicator_code,
           SUM(f.counts * f.numerator) AS numerator, SUM(f.counts * f.denominator) AS denominator,
           COUNT(DISTINCT f.period) AS months_reported,
           COUNT(DISTINCT CASE WHEN f.unit_code <> f.key_code AND f.counts = 1 THEN f.unit_code END) AS predecessor_units,
           {{ source_list('f.source') }} AS sources
    FROM ({{ figures_over_months(ref('core_effective_figure'), ':first_period', ':last_period', ':last_period',
                                 expected_only=true) }}) f
    GROUP BY f.key_code, f.indicator_code
) a
JOIN ref_rollup_period p ON p.rollup_period = :rollup_period
JOIN ref_unit u ON u.unit_code = a.key_code
LEFT JOIN ref_target t ON t.indicator_code = a.indicator_code AND t.year = :year;

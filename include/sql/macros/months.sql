{#- Totals over several months (year to date, roll-ups) of the units' figures. -#}

{#- The figures of `figures` (a relation of period, unit_code, indicator_code, source, numerator,
    denominator) from first_period to last_period, each with the unit it counts under as of
    key_period (key_code: itself, or its successor after the reorganisation, ref_period_unit_key)
    and whether it counts in the total (counts = 1, else 0; SUM(f.counts * f.numerator) is the total):
    every month of a flow, but of a stock (ytd_method 'latest', NQ01-1: procedures offered) only the
    latest month of each unit counted under (per source with per_source), and with
    stocks_of_existing_units_only only where that unit exists as of key_period (key_expected).
    expected_only keeps the figures of the months their unit was expected to report them. The
    arguments are SQL text: relation names and bind parameters such as ':period'. -#}
{% macro figures_over_months(figures, first_period, last_period, key_period, per_source=false,
                             expected_only=false, stocks_of_existing_units_only=false) -%}
SELECT f.period, f.unit_code, f.indicator_code, f.source, f.numerator, f.denominator, k.key_code,
           CASE WHEN i.ytd_method = 'latest'
                     AND (f.period <> l.last_period{{ ' OR k.key_expected = 0' if stocks_of_existing_units_only }})
                THEN 0 ELSE 1 END AS counts
    FROM {{ figures }} f
    {{ _expected('f', 'x') if expected_only }}
    JOIN {{ ref('ref_period_unit_key') }} k ON k.period = {{ key_period }} AND k.unit_code = f.unit_code
    JOIN ref_indicator i ON i.indicator_code = f.indicator_code
    JOIN (
        SELECT k2.key_code, f2.indicator_code{{ ', f2.source' if per_source }}, MAX(f2.period) AS last_period
        FROM {{ figures }} f2
        {{ _expected('f2', 'x2') if expected_only }}
        JOIN {{ ref('ref_period_unit_key') }} k2 ON k2.period = {{ key_period }} AND k2.unit_code = f2.unit_code
        WHERE f2.period >= {{ first_period }} AND f2.period <= {{ last_period }}
        GROUP BY k2.key_code, f2.indicator_code{{ ', f2.source' if per_source }}
    ) l ON l.key_code = k.key_code AND l.indicator_code = f.indicator_code{{ ' AND l.source = f.source' if per_source }}
    WHERE f.period >= {{ first_period }} AND f.period <= {{ last_period }}
{%- endmacro %}

{#- The figure's unit was expected to report the indicator in the figure's month. -#}
{% macro _expected(figure, alias) -%}
JOIN ref_period_unit_indicator {{ alias }}
      ON {{ alias }}.period = {{ figure }}.period AND {{ alias }}.unit_code = {{ figure }}.unit_code
     AND {{ alias }}.indicator_code = {{ figure }}.indicator_code
{%- endmacro %}

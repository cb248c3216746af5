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
SELECT w.period, w.unit_code, w.indicator_code, w.source, w.numerator, w.denominator, w.key_code,
           CASE WHEN w.ytd_method = 'latest'
                     AND (w.period <> w.last_period{{ ' OR w.key_expected = 0' if stocks_of_existing_units_only }})
                THEN 0 ELSE 1 END AS counts
    FROM (
        {#- The latest month by a window over the rows themselves: a join back to a grouped copy
            matched each group to its indicator's rows of every unit (quadratic in the units). -#}
        SELECT f.period, f.unit_code, f.indicator_code, f.source, f.numerator, f.denominator, k.key_code,
               k.key_expected, i.ytd_method,
               MAX(f.period) OVER (PARTITION BY k.key_code, f.indicator_code{{ ', f.source' if per_source }}) AS last_period
        FROM {{ figures }} f
        {{ _expected('f', 'x') if expected_only }}
        JOIN {{ ref('ref_period_unit_key') }} k ON k.period = {{ key_period }} AND k.unit_code = f.unit_code
        JOIN ref_indicator i ON i.indicator_code = f.indicator_code
        WHERE f.period >= {{ first_period }} AND f.period <= {{ last_period }}
    ) w
{%- endmacro %}

{#- The figure's unit was expected to report the indicator in the figure's month. -#}
{% macro _expected(figure, alias) -%}
JOIN ref_period_unit_indicator {{ alias }}
      ON {{ alias }}.period = {{ figure }}.period AND {{ alias }}.unit_code = {{ figure }}.unit_code
     AND {{ alias }}.indicator_code = {{ figure }}.indicator_code
{%- endmacro %}

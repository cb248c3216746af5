{#- Rates and targets: how a figure reads as a percentage and when it meets its target. Arguments
    are SQL expressions (column names), never values. -#}

{#- The rate in percent, unrounded; none for 0/0 ("không phát sinh"). -#}
{% macro rate(numerator, denominator) -%}
CASE WHEN {{ denominator }} > 0 THEN 100.0 * {{ numerator }} / {{ denominator }} END
{%- endmacro %}

{#- Meets the target (comparator '>=' or '=' from the catalogue's targets), judged on whole numbers
    (numerator·100 against target·denominator) so that a rate of exactly the target is not lost to
    floating-point noise; none for 0/0 or without a target. -#}
{% macro meets_target(numerator, denominator, target='t.target_pct', comparator='t.comparator') -%}
CASE WHEN COALESCE({{ denominator }}, 0) = 0 OR {{ target }} IS NULL THEN NULL
     WHEN {{ comparator }} = '=' THEN CAST({{ numerator }} * 100 AS DOUBLE PRECISION) = {{ target }} * {{ denominator }}
     ELSE CAST({{ numerator }} * 100 AS DOUBLE PRECISION) >= {{ target }} * {{ denominator }} END
{%- endmacro %}

{#- The plan's end-of-year stretch target (t.stretch_pct, always "at least"), judged for a whole year
    (a roll-up of frequency 'year') only. -#}
{% macro meets_stretch(numerator, denominator, frequency='p.frequency') -%}
CASE WHEN {{ frequency }} = 'year' THEN {{ meets_target(numerator, denominator, 't.stretch_pct', "'>='") }} END
{%- endmacro %}

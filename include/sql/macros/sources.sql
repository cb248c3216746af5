{#- Which source's figure counts where a unit has several for the same indicator and period:
    the catalogue's source_precedence.csv (loaded as ref_source_precedence), rank 1 first. -#}

{#- True for the figure of `alias` (a row of `relation`, keyed by period, unit_code, indicator_code
    and source) unless the same relation holds one from a source of higher precedence. -#}
{% macro from_preferred_source(relation, alias) -%}
NOT EXISTS (
        SELECT 1
        FROM {{ relation }} other
        JOIN ref_source_precedence other_rank ON other_rank.source = other.source
        JOIN ref_source_precedence own_rank ON own_rank.source = {{ alias }}.source
        WHERE other.period = {{ alias }}.period AND other.unit_code = {{ alias }}.unit_code
          AND other.indicator_code = {{ alias }}.indicator_code AND other_rank.rank < own_rank.rank)
{%- endmacro %}

{#- The sources an aggregate's figures come from, 'portal,shared_drive' (by name; both ends of the
    range: the pipeline has two sources). -#}
{% macro source_list(source) -%}
MIN({{ source }}) || CASE WHEN MIN({{ source }}) <> MAX({{ source }}) THEN ',' || MAX({{ source }}) ELSE '' END
{%- endmacro %}

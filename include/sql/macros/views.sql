{#- Re-create a derived view: what depends on it goes too on PostgreSQL (CASCADE; the models
    re-create them after it, in dependency order), while SQLite keeps no such dependencies. -#}
{% macro replace_view(name) -%}
DROP VIEW IF EXISTS {{ name }}{{ ' CASCADE' if dialect == 'postgresql' }};
CREATE VIEW {{ name }} AS
{%- endmacro %}

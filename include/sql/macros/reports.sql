{#- Rows the reports list. -#}

{#- Self-reports more than the reconciliation threshold away from the portal's figure (the portal
    figure counts; the office checks the difference), as models/reconciliation lists them, in the
    months first_period..last_period; by_month adds the month (a roll-up spans several). -#}
{% macro discrepancy_rows(first_period, last_period, by_month=false) -%}
SELECT {{ 'r.period, ' if by_month }}r.unit_code, u.name AS unit_name, r.indicator_code,
       r.portal_numerator, r.portal_denominator, r.portal_value_pct,
       r.self_numerator AS reported_numerator, r.self_denominator AS reported_denominator,
       r.self_value_pct AS reported_value_pct, cs.file_path
FROM mart_reconciliation r
LEFT JOIN ref_unit u ON u.unit_code = r.unit_code
LEFT JOIN core_submission cs ON cs.period = r.period AND cs.unit_code = r.unit_code
WHERE r.period >= {{ first_period }} AND r.period <= {{ last_period }}
ORDER BY {{ 'r.period, ' if by_month }}r.unit_code, r.indicator_code
{%- endmacro %}

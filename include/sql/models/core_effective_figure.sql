{{ config(refresh='schema') }}
-- The figure that counts where a unit has several sources: the one of highest precedence (the
-- catalogue's source_precedence.csv: the portal, what happened, over the self-report).
{{ replace_view('core_effective_figure') }}
SELECT f.*
FROM {{ ref('core_figure') }} f
WHERE {{ from_preferred_source(ref('core_figure'), 'f') }};

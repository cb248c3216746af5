{{ config(refresh='schema') }}
-- Every figure under every code it is shown under: NQ02-5 repeats NQ01-5 (the plan lists it twice).
{{ replace_view('core_figure') }}
SELECT c.period, c.unit_code, c.indicator_code, c.source, c.numerator, c.denominator, c.file_hash, c.file_row
FROM core_unit_indicator c
UNION ALL
SELECT c.period, c.unit_code, a.indicator_code, c.source, c.numerator, c.denominator, c.file_hash, c.file_row
FROM core_unit_indicator c
JOIN ref_indicator a ON a.alias_of = c.indicator_code;

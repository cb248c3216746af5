-- Portal-sourced core figures of the period, per indicator.
SELECT indicator_code, COUNT(*) AS figures FROM core_unit_indicator
WHERE period = :period AND source = 'portal'
GROUP BY indicator_code;

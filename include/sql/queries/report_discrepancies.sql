-- The month's discrepancies between self-reports and the portal (macros/reports.sql).
{{ discrepancy_rows(':period', ':period') }};

-- The discrepancies of every month of the roll-up, with their month (macros/reports.sql).
{{ discrepancy_rows(':first_period', ':last_period', by_month=true) }};

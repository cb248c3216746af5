-- Roll-ups already computed ending at or after this month within its year.
SELECT rollup_period, period_scheme FROM ref_rollup_period WHERE last_period >= :p AND last_period <= :year_end;

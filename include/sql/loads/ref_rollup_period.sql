-- A roll-up period's months and bounds, replacing any earlier row for it.
DELETE FROM ref_rollup_period WHERE rollup_period = :r;
INSERT INTO ref_rollup_period (rollup_period, frequency, first_period, last_period, months, period_scheme,
    period_start, period_end)
VALUES (:r, :f, :a, :b, :n, :scheme, :start, :end);

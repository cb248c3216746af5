-- The period's bounds and deadline, replacing any earlier row for it.
DELETE FROM ref_period WHERE period = :period;
INSERT INTO ref_period (period, period_scheme, period_start, period_end, deadline)
VALUES (:period, :scheme, :start, :end, :deadline);

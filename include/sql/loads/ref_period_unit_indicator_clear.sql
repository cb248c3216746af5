-- Drop the period's expected (unit, indicator) pairs before they are loaded again.
DELETE FROM ref_period_unit_indicator WHERE period = :period;

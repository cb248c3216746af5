-- Drop the period's portal indicator scope before it is loaded again.
DELETE FROM portal_indicator_scope WHERE period = :period;

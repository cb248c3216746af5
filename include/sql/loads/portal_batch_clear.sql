-- Drop the record of a portal batch (period, unit) before the new attempt is recorded.
DELETE FROM portal_batch WHERE period = :period AND unit_code = :unit_code;

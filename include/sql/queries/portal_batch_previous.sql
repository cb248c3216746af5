-- The last load of a portal batch (period, unit), kept when a new attempt is quarantined.
SELECT loaded_at, archive_path FROM portal_batch WHERE period = :period AND unit_code = :unit_code;

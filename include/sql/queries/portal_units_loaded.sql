-- How many units have a loaded portal batch for the period.
SELECT COUNT(*) AS units FROM portal_batch WHERE period = :period AND loaded_at IS NOT NULL;

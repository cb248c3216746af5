-- Every path where each content version naming the period was seen (for units bound to folders).
SELECT DISTINCT o.file_hash, o.path
FROM file_observation o
JOIN stg_submission s ON s.file_hash = o.file_hash
WHERE s.period = :period;

SELECT DISTINCT s.unit_code
FROM validation_result v
JOIN stg_submission s ON s.file_hash = v.file_hash
WHERE v.period = :period AND v.outcome = 'accepted';

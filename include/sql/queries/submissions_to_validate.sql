-- Submissions to validate for a period: those whose file names the period, plus files whose period
-- could not be read that were received during this period's collection window.
SELECT s.file_hash, s.file_kind, s.unit_code, s.unit_cell, s.period, s.parse_outcome, s.parse_reasons, s.columns_found
FROM stg_submission s
WHERE s.period = :period
   OR (s.period IS NULL
       AND (SELECT MIN(o.received_at) FROM file_observation o WHERE o.file_hash = s.file_hash) >= :window_start
       AND (SELECT MIN(o.received_at) FROM file_observation o WHERE o.file_hash = s.file_hash) < :window_end)
ORDER BY s.file_hash;

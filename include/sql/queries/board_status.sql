-- Status board: every expected unit's submission status for the period, then rejected files that
-- name no expected unit (expected = 0). Missing and rejected first: they are the clerk's work.
SELECT s.unit_code, s.unit_name, u.unit_type, s.status, s.received_at, s.file, s.reasons, s.deadline,
       s.versions,
       CASE WHEN EXISTS (
           SELECT 1 FROM ref_period_unit_indicator x
           WHERE x.period = s.period AND x.unit_code = s.unit_code) THEN 1 ELSE 0 END AS expected
FROM mart_submission_status s
LEFT JOIN ref_unit u ON u.unit_code = s.unit_code
WHERE s.period = :period
ORDER BY CASE s.status WHEN 'missing' THEN 1 WHEN 'rejected' THEN 2 WHEN 'late' THEN 3 ELSE 4 END,
         COALESCE(s.unit_code, ''), COALESCE(s.file, '');

-- Submissions of every month of the roll-up (one row per unit and month), as in the monthly report.
SELECT s.period, s.unit_code, s.unit_name, s.status, s.received_at, s.file, s.reasons, s.deadline, s.versions,
       CASE WHEN EXISTS (
           SELECT 1 FROM ref_period_unit_indicator x
           WHERE x.period = s.period AND x.unit_code = s.unit_code) THEN 1 ELSE 0 END AS expected
FROM mart_submission_status s
WHERE s.period >= :first_period AND s.period <= :last_period
ORDER BY CASE s.status WHEN 'missing' THEN 1 WHEN 'rejected' THEN 2 WHEN 'late' THEN 3 ELSE 4 END,
         s.period, COALESCE(s.unit_code, ''), COALESCE(s.file, '');

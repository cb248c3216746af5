-- Reported periods with a submission version first seen after the period's last validation began
-- (a late file or a correction that no run of that period has read yet).
SELECT DISTINCT s.period
FROM stg_submission s
JOIN raw_file f ON f.file_hash = s.file_hash
JOIN period_validation v ON v.period = s.period
WHERE f.first_seen_at > v.validated_from
  AND EXISTS (SELECT 1 FROM mart_area_kpi_monthly a WHERE a.period = s.period)
ORDER BY s.period;

-- The submission that counts per unit and period: the newest accepted version
-- (by modification time, ties broken by content hash). Older versions stay in the audit trail.
DELETE FROM core_submission WHERE period = :period;

INSERT INTO core_submission (period, unit_code, file_hash, file_path, received_at, is_late, versions)
SELECT r.period, r.unit_code, r.file_hash, r.file_path, r.received_at,
       CASE WHEN r.received_at >= p.deadline THEN TRUE ELSE FALSE END,
       r.versions
FROM (
    SELECT v.*,
           ROW_NUMBER() OVER (PARTITION BY v.unit_code ORDER BY v.received_at DESC, v.file_hash DESC) AS rn,
           COUNT(*) OVER (PARTITION BY v.unit_code) AS versions
    FROM {{ ref('core_submission_version') }} v
    WHERE v.period = :period AND v.outcome = 'accepted'
) r
JOIN ref_period p ON p.period = r.period
WHERE r.rn = 1;

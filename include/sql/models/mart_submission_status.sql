-- One row per unit expected in the period (on_time, late, missing or rejected), plus one row per
-- rejected file of the period that names no expected unit (unknown or unreadable unit code).
DELETE FROM mart_submission_status WHERE period = :period;

INSERT INTO mart_submission_status (period, unit_code, unit_name, status, received_at, file, file_hash, reasons, deadline, versions)
SELECT p.period, x.unit_code, u.name,
       -- On time or late by the unit's first valid version: a correction sent after the deadline
       -- keeps an on-time submission on time (versions shows it was corrected).
       CASE WHEN c.unit_code IS NOT NULL THEN CASE WHEN f.first_valid_at >= p.deadline THEN 'late' ELSE 'on_time' END
            WHEN r.unit_code IS NOT NULL THEN 'rejected'
            ELSE 'missing' END,
       COALESCE(c.received_at, r.received_at),
       COALESCE(c.file_path, r.file_path),
       COALESCE(c.file_hash, r.file_hash),
       -- With a counting file, a newer rejected version is still worth telling the clerk about.
       CASE WHEN c.unit_code IS NULL THEN r.reasons
            WHEN r.received_at > c.received_at THEN 'Tệp mới hơn ' || r.file_path || ' bị từ chối: ' || r.reasons
       END,
       p.deadline,
       COALESCE(n.versions, 0)
FROM (SELECT DISTINCT period, unit_code FROM ref_period_unit_indicator WHERE period = :period) x
JOIN ref_period p ON p.period = x.period
JOIN ref_unit u ON u.unit_code = x.unit_code
LEFT JOIN core_submission c ON c.period = x.period AND c.unit_code = x.unit_code
LEFT JOIN (
    SELECT v.*, ROW_NUMBER() OVER (PARTITION BY v.unit_code ORDER BY v.received_at DESC, v.file_hash DESC) AS rn
    FROM core_submission_version v
    WHERE v.period = :period AND v.outcome = 'rejected'
) r ON r.unit_code = x.unit_code AND r.rn = 1
LEFT JOIN (
    SELECT unit_code, COUNT(*) AS versions FROM core_submission_version WHERE period = :period GROUP BY unit_code
) n ON n.unit_code = x.unit_code
LEFT JOIN (
    SELECT unit_code, MIN(received_at) AS first_valid_at
    FROM core_submission_version WHERE period = :period AND outcome = 'accepted' GROUP BY unit_code
) f ON f.unit_code = x.unit_code;

INSERT INTO mart_submission_status (period, unit_code, unit_name, status, received_at, file, file_hash, reasons, deadline, versions)
SELECT v.period, v.unit_code, u.name, 'rejected', v.received_at, v.file_path, v.file_hash, v.reasons, p.deadline, 1
FROM core_submission_version v
JOIN ref_period p ON p.period = v.period
LEFT JOIN ref_unit u ON u.unit_code = v.unit_code
WHERE v.period = :period
  AND NOT EXISTS (SELECT 1 FROM ref_period_unit_indicator x WHERE x.period = v.period AND x.unit_code = v.unit_code);

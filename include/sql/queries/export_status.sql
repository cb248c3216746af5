SELECT period, unit_code, unit_name, status, received_at, file, file_hash, reasons, deadline, versions
FROM mart_submission_status
WHERE period = :period
ORDER BY CASE WHEN unit_code IS NULL THEN 1 ELSE 0 END, unit_code, file;

-- Units per submission status for the period.
SELECT status, COUNT(*) AS units FROM mart_submission_status WHERE period = :p GROUP BY status;

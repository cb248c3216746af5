-- Status board: the periods that have marts, newest first, with their bounds (local ISO-8601) so the
-- board can find the Airflow DAG run whose data interval is the period, and the submission deadline.
SELECT p.period, p.period_scheme, p.period_start, p.period_end, p.deadline
FROM ref_period p
WHERE EXISTS (SELECT 1 FROM mart_submission_status s WHERE s.period = p.period)
   OR EXISTS (SELECT 1 FROM mart_area_kpi_monthly a WHERE a.period = p.period)
ORDER BY p.period DESC;

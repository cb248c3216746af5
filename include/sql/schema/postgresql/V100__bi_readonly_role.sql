-- A read-only role for BI tools (PostgreSQL only): the public marts and the catalogue, nothing else.
-- Give a login role membership: CREATE ROLE powerbi LOGIN PASSWORD '...' IN ROLE tthc_bi;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tthc_bi') THEN
        CREATE ROLE tthc_bi NOLOGIN;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO tthc_bi;

GRANT SELECT ON mart_unit_kpi_monthly, mart_area_kpi_monthly, mart_submission_status, mart_reconciliation,
    ref_unit, ref_indicator, ref_target, ref_period TO tthc_bi;

-- The TTHC warehouse's roles and database. Run once as the server's superuser, with psql (15+):
--   - by the postgres image on an empty data directory (docker-compose.yaml mounts this folder on
--     /docker-entrypoint-initdb.d, and passes the variables below to the warehouse-db service);
--   - by the test suite, against the local server (tests/test_celery_cluster.py).
-- The application role owns its database (so the migrations can create the schema in it) and
-- nothing else: no superuser, no CREATEDB, no CREATEROLE. tthc_bi (read-only, for BI tools) is
-- created here because the application role may not create roles; the migration
-- schema/postgresql/V100 then grants it SELECT on the public marts.
\set ON_ERROR_STOP on
\getenv app_role TTHC_WAREHOUSE_ROLE
\getenv app_password TTHC_WAREHOUSE_PASSWORD
\getenv app_db TTHC_WAREHOUSE_DB

CREATE ROLE :"app_role" LOGIN PASSWORD :'app_password'
    NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
SELECT 'CREATE ROLE tthc_bi NOLOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tthc_bi') \gexec

CREATE DATABASE :"app_db" OWNER :"app_role";
REVOKE ALL ON DATABASE :"app_db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"app_db" TO :"app_role";
GRANT CONNECT ON DATABASE :"app_db" TO tthc_bi;

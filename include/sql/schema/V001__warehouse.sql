-- Warehouse tables. Portable across SQLite (embedded default) and PostgreSQL (production).
-- Timestamps are ISO-8601 strings in Asia/Ho_Chi_Minh local time so both engines compare them alike.

-- Reference catalogue, refreshed from include/catalogue/*.csv on every load.
CREATE TABLE ref_unit (
    unit_code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    unit_type TEXT NOT NULL,
    gso_code TEXT,
    valid_from TEXT NOT NULL,
    valid_to TEXT,
    successor_code TEXT
);

CREATE TABLE ref_indicator (
    indicator_code TEXT PRIMARY KEY,
    display_order INTEGER NOT NULL,
    name_vi TEXT NOT NULL,
    short_name_vi TEXT NOT NULL,
    alias_of TEXT,
    ytd_method TEXT NOT NULL
);

CREATE TABLE ref_target (
    indicator_code TEXT NOT NULL,
    year INTEGER NOT NULL,
    comparator TEXT NOT NULL,
    target_pct DOUBLE PRECISION NOT NULL,
    stretch_pct DOUBLE PRECISION,
    PRIMARY KEY (indicator_code, year)
);

-- Units that must report in a period, which indicators apply to them, and the period's deadline.
CREATE TABLE ref_period_unit_indicator (
    period TEXT NOT NULL,
    unit_code TEXT NOT NULL,
    indicator_code TEXT NOT NULL,
    PRIMARY KEY (period, unit_code, indicator_code)
);

CREATE TABLE ref_period (
    period TEXT PRIMARY KEY,
    period_scheme TEXT NOT NULL,
    period_start TEXT NOT NULL,
    period_end TEXT NOT NULL,
    deadline TEXT NOT NULL
);

-- Audit trail of the shared drive: every content version, and every place and time it was seen.
CREATE TABLE raw_file (
    file_hash TEXT PRIMARY KEY,
    size_bytes BIGINT NOT NULL,
    archive_path TEXT NOT NULL,
    first_seen_at TEXT NOT NULL
);

CREATE TABLE file_observation (
    path TEXT NOT NULL,
    file_hash TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    mtime TEXT NOT NULL,
    first_seen_at TEXT NOT NULL,
    PRIMARY KEY (path, file_hash, mtime)
);

-- Files on the share that are not submissions (lock files, documents...): recorded, never read.
CREATE TABLE ignored_file (
    path TEXT PRIMARY KEY,
    size_bytes BIGINT NOT NULL,
    mtime TEXT NOT NULL,
    reason TEXT NOT NULL
);

-- Parsed content, one row per content hash (a file is read once).
CREATE TABLE stg_submission (
    file_hash TEXT PRIMARY KEY,
    file_kind TEXT,
    unit_code TEXT,
    unit_cell TEXT,
    period TEXT,
    parse_outcome TEXT NOT NULL,
    parse_reasons TEXT,
    warnings TEXT,
    columns_found TEXT
);

CREATE TABLE stg_submission_row (
    file_hash TEXT NOT NULL,
    row_number INTEGER NOT NULL,
    row_ref TEXT NOT NULL,
    indicator_code TEXT NOT NULL,
    numerator_text TEXT,
    denominator_text TEXT,
    rate DOUBLE PRECISION,
    rate_text TEXT,
    note TEXT,
    cells TEXT NOT NULL,
    PRIMARY KEY (file_hash, row_number)
);

-- Great Expectations outcome per file version (re-run on every validation of its period).
CREATE TABLE validation_result (
    file_hash TEXT PRIMARY KEY,
    period TEXT,
    outcome TEXT NOT NULL,
    reasons TEXT,
    expectations_total INTEGER NOT NULL,
    expectations_failed INTEGER NOT NULL,
    result_path TEXT
);

-- Core: the submission that counts per unit and period, and its figures.
CREATE TABLE core_submission (
    period TEXT NOT NULL,
    unit_code TEXT NOT NULL,
    file_hash TEXT NOT NULL,
    file_path TEXT NOT NULL,
    received_at TEXT NOT NULL,
    is_late BOOLEAN NOT NULL,
    versions INTEGER NOT NULL,
    PRIMARY KEY (period, unit_code)
);

CREATE TABLE core_unit_indicator (
    period TEXT NOT NULL,
    unit_code TEXT NOT NULL,
    indicator_code TEXT NOT NULL,
    source TEXT NOT NULL,
    numerator BIGINT NOT NULL,
    denominator BIGINT NOT NULL,
    file_hash TEXT,
    file_row TEXT,
    PRIMARY KEY (period, unit_code, indicator_code, source)
);

-- Public marts (spec "Outputs").
CREATE TABLE mart_unit_kpi_monthly (
    period TEXT NOT NULL,
    unit_code TEXT NOT NULL,
    unit_name TEXT NOT NULL,
    unit_type TEXT NOT NULL,
    indicator_code TEXT NOT NULL,
    numerator BIGINT NOT NULL,
    denominator BIGINT NOT NULL,
    value_pct DOUBLE PRECISION,
    target_pct DOUBLE PRECISION,
    comparator TEXT,
    meets_target BOOLEAN,
    ytd_numerator BIGINT NOT NULL,
    ytd_denominator BIGINT NOT NULL,
    ytd_value_pct DOUBLE PRECISION,
    ytd_meets_target BOOLEAN,
    source TEXT NOT NULL,
    period_scheme TEXT NOT NULL,
    file_path TEXT,
    file_hash TEXT,
    file_row TEXT,
    PRIMARY KEY (period, unit_code, indicator_code, source)
);

CREATE TABLE mart_area_kpi_monthly (
    period TEXT NOT NULL,
    indicator_code TEXT NOT NULL,
    indicator_name TEXT NOT NULL,
    numerator BIGINT NOT NULL,
    denominator BIGINT NOT NULL,
    value_pct DOUBLE PRECISION,
    target_pct DOUBLE PRECISION,
    comparator TEXT,
    stretch_pct DOUBLE PRECISION,
    meets_target BOOLEAN,
    units_reported INTEGER NOT NULL,
    units_expected INTEGER NOT NULL,
    ytd_numerator BIGINT NOT NULL,
    ytd_denominator BIGINT NOT NULL,
    ytd_value_pct DOUBLE PRECISION,
    ytd_meets_target BOOLEAN,
    sources TEXT,
    period_scheme TEXT NOT NULL,
    PRIMARY KEY (period, indicator_code)
);

CREATE TABLE mart_submission_status (
    period TEXT NOT NULL,
    unit_code TEXT,
    unit_name TEXT,
    status TEXT NOT NULL,
    received_at TEXT,
    file TEXT,
    file_hash TEXT,
    reasons TEXT,
    deadline TEXT NOT NULL,
    versions INTEGER NOT NULL
);

CREATE INDEX ix_stg_submission_period ON stg_submission (period);
CREATE INDEX ix_file_observation_hash ON file_observation (file_hash);
CREATE INDEX ix_core_unit_indicator_unit ON core_unit_indicator (unit_code, indicator_code, period);
CREATE INDEX ix_mart_unit_period ON mart_unit_kpi_monthly (period, indicator_code);
CREATE INDEX ix_mart_status_period ON mart_submission_status (period, status);

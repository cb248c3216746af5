-- Roll-ups (quarter, half-year, year under the same Decree 09 / calendar rule as the months) and the
-- reorganisation of 01/07/2025 (units merging into successors).

-- Predecessor units whose figures a unit's year-to-date includes (old communes before 01/07/2025
-- rolled up to the new commune they merged into): 0 = only the unit's own figures.
ALTER TABLE mart_unit_kpi_monthly ADD COLUMN ytd_predecessor_units INTEGER NOT NULL DEFAULT 0;

-- A roll-up period: its label ('2025-Q1', '2025-H1', '2025'), frequency and the months it covers.
CREATE TABLE ref_rollup_period (
    rollup_period TEXT PRIMARY KEY,
    frequency TEXT NOT NULL,
    first_period TEXT NOT NULL,
    last_period TEXT NOT NULL,
    months INTEGER NOT NULL,
    period_scheme TEXT NOT NULL,
    period_start TEXT NOT NULL,
    period_end TEXT NOT NULL
);

-- Per unit as of the roll-up's end: a unit that no longer exists then, whose successor does,
-- is counted under its successor (predecessor_units says how many such units are included).
CREATE TABLE mart_unit_kpi_rollup (
    rollup_period TEXT NOT NULL,
    frequency TEXT NOT NULL,
    first_period TEXT NOT NULL,
    last_period TEXT NOT NULL,
    unit_code TEXT NOT NULL,
    unit_name TEXT NOT NULL,
    unit_type TEXT NOT NULL,
    unit_valid_to TEXT,
    indicator_code TEXT NOT NULL,
    numerator BIGINT NOT NULL,
    denominator BIGINT NOT NULL,
    value_pct DOUBLE PRECISION,
    target_pct DOUBLE PRECISION,
    comparator TEXT,
    meets_target BOOLEAN,
    stretch_pct DOUBLE PRECISION,
    meets_stretch BOOLEAN,
    months_reported INTEGER NOT NULL,
    predecessor_units INTEGER NOT NULL,
    sources TEXT,
    period_scheme TEXT NOT NULL,
    PRIMARY KEY (rollup_period, unit_code, indicator_code)
);

CREATE TABLE mart_area_kpi_rollup (
    rollup_period TEXT NOT NULL,
    frequency TEXT NOT NULL,
    first_period TEXT NOT NULL,
    last_period TEXT NOT NULL,
    indicator_code TEXT NOT NULL,
    indicator_name TEXT NOT NULL,
    numerator BIGINT NOT NULL,
    denominator BIGINT NOT NULL,
    value_pct DOUBLE PRECISION,
    target_pct DOUBLE PRECISION,
    comparator TEXT,
    meets_target BOOLEAN,
    stretch_pct DOUBLE PRECISION,
    meets_stretch BOOLEAN,
    ytd_numerator BIGINT NOT NULL,
    ytd_denominator BIGINT NOT NULL,
    ytd_value_pct DOUBLE PRECISION,
    ytd_meets_target BOOLEAN,
    units_reported INTEGER NOT NULL,
    units_expected INTEGER NOT NULL,
    unit_months_reported INTEGER NOT NULL,
    unit_months_expected INTEGER NOT NULL,
    months_aggregated INTEGER NOT NULL,
    sources TEXT,
    period_scheme TEXT NOT NULL,
    PRIMARY KEY (rollup_period, indicator_code)
);

-- Whose figures a unit's figures are counted under as of a period (models/ref_period_unit_key):
-- itself, or its successor when it is no longer expected in that period and its successor is.
-- key_expected: the unit counted under is expected in that period (a stock such as NQ01-1 is
-- measured only over the units that exist at the period's end).
CREATE TABLE ref_period_unit_key (
    period TEXT NOT NULL,
    unit_code TEXT NOT NULL,
    key_code TEXT NOT NULL,
    key_expected INTEGER NOT NULL,
    PRIMARY KEY (period, unit_code)
);

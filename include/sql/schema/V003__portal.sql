-- The provincial portal source (spec "Source 2"). No personal data anywhere: names, ID numbers and
-- phone numbers are dropped by the client; chu_ho_so_key is a salted HMAC whose salt never reaches
-- the warehouse. Dossier times are ISO-8601 strings in Asia/Ho_Chi_Minh (+07:00), like the rest of
-- the warehouse, so SQLite and PostgreSQL compare them alike.

-- One unit-period's dossiers as its fetch returned them, deduplicated by MaHoSo. `period` is the
-- fetch period: a dossier received in one period and resolved in the next is fetched by both, and
-- each period counts only its own fetch's rows, so nothing is counted twice.
CREATE TABLE fact_dossier (
    period TEXT NOT NULL,
    unit_code TEXT NOT NULL,
    ma_ho_so TEXT NOT NULL,
    ma_tthc TEXT,
    ma_linh_vuc TEXT,
    kenh_thuc_hien SMALLINT NOT NULL,
    trang_thai_ho_so SMALLINT NOT NULL,
    ngay_tiep_nhan TEXT NOT NULL,
    ngay_hen_tra TEXT NOT NULL,
    ngay_ket_thuc_xu_ly TEXT,
    phai_thanh_toan SMALLINT NOT NULL,
    duoc_thanh_toan_truc_tuyen SMALLINT NOT NULL,
    ho_so_co_thanh_phan_so_hoa SMALLINT NOT NULL,
    ket_qua_duoc_so_hoa SMALLINT NOT NULL,
    co_ket_qua_dien_tu SMALLINT NOT NULL,
    da_dong_bo_dvcqg SMALLINT NOT NULL,
    co_tai_su_dung_du_lieu SMALLINT NOT NULL,
    danh_gia TEXT,
    chu_ho_so_key TEXT,
    PRIMARY KEY (period, unit_code, ma_ho_so)
);

-- The unit's procedure catalogue as fetched for the period (NQ01-1 counts the catalogue of the run).
CREATE TABLE fact_procedure (
    period TEXT NOT NULL,
    unit_code TEXT NOT NULL,
    ma_tthc TEXT NOT NULL,
    ten_tthc TEXT,
    du_dieu_kien_toan_trinh SMALLINT NOT NULL,
    da_cung_cap_toan_trinh SMALLINT NOT NULL,
    PRIMARY KEY (period, unit_code, ma_tthc)
);

-- The latest fetch of each unit-period. A quarantined batch loads nothing: the facts of the last
-- loaded batch (loaded_at) stay and keep counting.
CREATE TABLE portal_batch (
    period TEXT NOT NULL,
    unit_code TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reasons TEXT,
    records_fetched INTEGER NOT NULL,
    dossiers INTEGER NOT NULL,
    procedures INTEGER NOT NULL,
    archive_path TEXT,
    attempted_at TEXT NOT NULL,
    loaded_at TEXT,
    PRIMARY KEY (period, unit_code)
);

-- Which portal indicators apply to which unit in a period: the catalogue's indicators with a
-- portal_rule, refreshed when portal figures are computed (the catalogue is data, not code).
CREATE TABLE portal_indicator_scope (
    period TEXT NOT NULL,
    unit_code TEXT NOT NULL,
    indicator_code TEXT NOT NULL,
    PRIMARY KEY (period, unit_code, indicator_code)
);

-- Self-reported figures more than the threshold away from the portal's (0/0 on either side is not
-- compared). difference_points = self_value_pct - portal_value_pct.
CREATE TABLE mart_reconciliation (
    period TEXT NOT NULL,
    unit_code TEXT NOT NULL,
    indicator_code TEXT NOT NULL,
    self_numerator BIGINT NOT NULL,
    self_denominator BIGINT NOT NULL,
    self_value_pct DOUBLE PRECISION NOT NULL,
    portal_numerator BIGINT NOT NULL,
    portal_denominator BIGINT NOT NULL,
    portal_value_pct DOUBLE PRECISION NOT NULL,
    difference_points DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (period, unit_code, indicator_code)
);

-- The primary keys serve the per unit-period replace and the counting scan (period, unit_code);
-- this one traces a dossier across the fetches that returned it.
CREATE INDEX ix_fact_dossier_ma_ho_so ON fact_dossier (ma_ho_so);
CREATE INDEX ix_portal_batch_outcome ON portal_batch (period, outcome);

-- A portal batch's procedures (one parameter set per procedure).
INSERT INTO fact_procedure (period, unit_code, ma_tthc, ten_tthc, du_dieu_kien_toan_trinh, da_cung_cap_toan_trinh)
VALUES (:period, :unit_code, :ma_tthc, :ten_tthc, :du_dieu_kien_toan_trinh, :da_cung_cap_toan_trinh);

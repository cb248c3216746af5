-- Dossier-based figures per unit from its loaded portal batch (spec "Source 2", counting rules).
-- Only the rows fetched for the period count (see fact_dossier); received / resolved compare ISO local
-- times with the period's [start, end). NQ02-5 is NQ01-5 under another code: the
-- core_figure view repeats it. A unit whose batch holds no dossiers gets 0/0 ("không phát sinh").
-- Codes in portal_indicator_scope this model has no formula for yield no row (dossiers.py warns).
DELETE FROM core_unit_indicator WHERE period = :period AND source = 'portal';

INSERT INTO core_unit_indicator (period, unit_code, indicator_code, source, numerator, denominator, file_hash, file_row)
SELECT x.period, x.unit_code, x.indicator_code, 'portal', x.numerator, x.denominator, NULL, NULL
FROM (
    SELECT s.period, s.unit_code, s.indicator_code,
           CASE s.indicator_code
                WHEN 'NQ01-1' THEN p.offered_fully_online
                WHEN 'NQ01-2' THEN c.received_fee_paid_online
                WHEN 'NQ01-3' THEN c.received_online
                WHEN 'NQ02-3' THEN c.received_reusing_data
                WHEN 'NQ01-4' THEN c.resolved_digitised
                WHEN 'NQ01-5' THEN c.resolved_synced
                WHEN 'NQ02-1' THEN c.resolved_electronic_result
                WHEN 'NQ02-7' THEN c.ratings_satisfied
                WHEN 'TDGQ-1' THEN c.resolved_on_time
           END AS numerator,
           CASE s.indicator_code
                WHEN 'NQ01-1' THEN p.eligible
                WHEN 'NQ01-2' THEN c.received_fee
                WHEN 'NQ01-3' THEN c.received
                WHEN 'NQ02-3' THEN c.received
                WHEN 'NQ01-4' THEN c.resolved
                WHEN 'NQ01-5' THEN c.resolved
                WHEN 'NQ02-1' THEN c.resolved
                WHEN 'NQ02-7' THEN c.ratings
                WHEN 'TDGQ-1' THEN c.resolved
           END AS denominator
    FROM portal_indicator_scope s
    JOIN (
        SELECT d.unit_code,
               SUM(d.rec) AS received,
               SUM(CASE WHEN d.rec = 1 AND d.phai_thanh_toan = 1 THEN 1 ELSE 0 END) AS received_fee,
               SUM(CASE WHEN d.rec = 1 AND d.phai_thanh_toan = 1 AND d.duoc_thanh_toan_truc_tuyen = 1 THEN 1 ELSE 0 END) AS received_fee_paid_online,
               SUM(CASE WHEN d.rec = 1 AND d.kenh_thuc_hien = 2 THEN 1 ELSE 0 END) AS received_online,
               SUM(CASE WHEN d.rec = 1 AND d.co_tai_su_dung_du_lieu = 1 THEN 1 ELSE 0 END) AS received_reusing_data,
               SUM(d.res) AS resolved,
               SUM(CASE WHEN d.res = 1 AND d.ho_so_co_thanh_phan_so_hoa = 1 AND d.ket_qua_duoc_so_hoa = 1 THEN 1 ELSE 0 END) AS resolved_digitised,
               SUM(CASE WHEN d.res = 1 AND d.da_dong_bo_dvcqg = 1 THEN 1 ELSE 0 END) AS resolved_synced,
               SUM(CASE WHEN d.res = 1 AND d.co_ket_qua_dien_tu = 1 THEN 1 ELSE 0 END) AS resolved_electronic_result,
               SUM(CASE WHEN d.res = 1 AND d.ngay_ket_thuc_xu_ly <= d.ngay_hen_tra THEN 1 ELSE 0 END) AS resolved_on_time,
               SUM(CASE WHEN d.res = 1 AND d.danh_gia IS NOT NULL THEN 1 ELSE 0 END) AS ratings,
               SUM(CASE WHEN d.res = 1 AND d.danh_gia IN ('RAT_HAI_LONG', 'HAI_LONG') THEN 1 ELSE 0 END) AS ratings_satisfied
        FROM (
            -- A loaded batch without dossiers still yields one all-zero row (LEFT JOIN).
            SELECT b.unit_code, f.kenh_thuc_hien, f.ngay_hen_tra, f.ngay_ket_thuc_xu_ly, f.danh_gia,
                   f.phai_thanh_toan, f.duoc_thanh_toan_truc_tuyen, f.co_tai_su_dung_du_lieu,
                   f.ho_so_co_thanh_phan_so_hoa, f.ket_qua_duoc_so_hoa, f.da_dong_bo_dvcqg, f.co_ket_qua_dien_tu,
                   CASE WHEN f.ngay_tiep_nhan >= :period_start AND f.ngay_tiep_nhan < :period_end THEN 1 ELSE 0 END AS rec,
                   CASE WHEN f.ngay_ket_thuc_xu_ly >= :period_start AND f.ngay_ket_thuc_xu_ly < :period_end THEN 1 ELSE 0 END AS res
            FROM portal_batch b
            LEFT JOIN fact_dossier f ON f.period = b.period AND f.unit_code = b.unit_code
            WHERE b.period = :period AND b.loaded_at IS NOT NULL
        ) d
        GROUP BY d.unit_code
    ) c ON c.unit_code = s.unit_code
    JOIN (
        SELECT b.unit_code,
               SUM(CASE WHEN t.du_dieu_kien_toan_trinh = 1 THEN 1 ELSE 0 END) AS eligible,
               SUM(CASE WHEN t.du_dieu_kien_toan_trinh = 1 AND t.da_cung_cap_toan_trinh = 1 THEN 1 ELSE 0 END) AS offered_fully_online
        FROM portal_batch b
        LEFT JOIN fact_procedure t ON t.period = b.period AND t.unit_code = b.unit_code
        WHERE b.period = :period AND b.loaded_at IS NOT NULL
        GROUP BY b.unit_code
    ) p ON p.unit_code = s.unit_code
    WHERE s.period = :period
) x
WHERE x.numerator IS NOT NULL;

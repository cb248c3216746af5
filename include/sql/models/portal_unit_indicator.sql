-- Dossier-based figures per unit from the loaded portal batches (spec "Source 2", counting rules).
-- Only the rows fetched for the period count (see fact_dossier); received / resolved compare ISO local
-- times with the period's [start, end). NQ02-5 is NQ01-5 under another code: the
-- core_figure view repeats it. A unit whose batch holds no dossiers gets 0/0 ("không phát sinh").
-- Codes in portal_indicator_scope this model has no formula for yield no row (stage.py warns).
--
-- Across the reorganisation (01/07/2025) a period fetches every unit that existed during it; an old
-- unit's dossiers count under the unit it counts under in the period (ref_period_unit_key: its
-- successor once the successor is expected), so period 2025-07 (15/06-14/07) counts the old communes'
-- dossiers of 15-30/06 under the new communes. A unit gets figures only when every unit counting
-- under it that existed during the period has a loaded batch: a missing part would undercount.
-- The procedure catalogue (NQ01-1) is a stock: the unit's own catalogue only.
--
-- Rules vendors differ on (settings): portal_status_rule says which TrangThaiHoSo count as resolved
-- (with an end date in the period) and which are withdrawn (neither received nor resolved; a status
-- without a rule row counts as the spec says: resolved, not withdrawn); on_time_by_date = 1 judges
-- on time by the day of NgayHenTra (YYYY-MM-DD, the first 10 characters of the ISO text), 0 by the
-- full timestamp.
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
        SELECT d.key_code AS unit_code,
               SUM(d.rec) AS received,
               SUM(CASE WHEN d.rec = 1 AND d.phai_thanh_toan = 1 THEN 1 ELSE 0 END) AS received_fee,
               SUM(CASE WHEN d.rec = 1 AND d.phai_thanh_toan = 1 AND d.duoc_thanh_toan_truc_tuyen = 1 THEN 1 ELSE 0 END) AS received_fee_paid_online,
               SUM(CASE WHEN d.rec = 1 AND d.kenh_thuc_hien = 2 THEN 1 ELSE 0 END) AS received_online,
               SUM(CASE WHEN d.rec = 1 AND d.co_tai_su_dung_du_lieu = 1 THEN 1 ELSE 0 END) AS received_reusing_data,
               SUM(d.res) AS resolved,
               SUM(CASE WHEN d.res = 1 AND d.ho_so_co_thanh_phan_so_hoa = 1 AND d.ket_qua_duoc_so_hoa = 1 THEN 1 ELSE 0 END) AS resolved_digitised,
               SUM(CASE WHEN d.res = 1 AND d.da_dong_bo_dvcqg = 1 THEN 1 ELSE 0 END) AS resolved_synced,
               SUM(CASE WHEN d.res = 1 AND d.co_ket_qua_dien_tu = 1 THEN 1 ELSE 0 END) AS resolved_electronic_result,
               SUM(CASE WHEN d.res = 1 AND (
                         (:on_time_by_date = 0 AND d.ngay_ket_thuc_xu_ly <= d.ngay_hen_tra)
                      OR (:on_time_by_date = 1 AND SUBSTR(d.ngay_ket_thuc_xu_ly, 1, 10) <= SUBSTR(d.ngay_hen_tra, 1, 10)))
                        THEN 1 ELSE 0 END) AS resolved_on_time,
               SUM(CASE WHEN d.res = 1 AND d.danh_gia IS NOT NULL THEN 1 ELSE 0 END) AS ratings,
               SUM(CASE WHEN d.res = 1 AND d.danh_gia IN ('RAT_HAI_LONG', 'HAI_LONG') THEN 1 ELSE 0 END) AS ratings_satisfied
        FROM (
            -- A loaded batch without dossiers still yields one all-zero row (LEFT JOIN).
            SELECT k.key_code, f.kenh_thuc_hien, f.ngay_hen_tra, f.ngay_ket_thuc_xu_ly, f.danh_gia,
                   f.phai_thanh_toan, f.duoc_thanh_toan_truc_tuyen, f.co_tai_su_dung_du_lieu,
                   f.ho_so_co_thanh_phan_so_hoa, f.ket_qua_duoc_so_hoa, f.da_dong_bo_dvcqg, f.co_ket_qua_dien_tu,
                   CASE WHEN COALESCE(r.withdrawn, 0) = 0
                         AND f.ngay_tiep_nhan >= :period_start AND f.ngay_tiep_nhan < :period_end THEN 1 ELSE 0 END AS rec,
                   CASE WHEN COALESCE(r.withdrawn, 0) = 0 AND COALESCE(r.resolved, 1) = 1
                         AND f.ngay_ket_thuc_xu_ly >= :period_start AND f.ngay_ket_thuc_xu_ly < :period_end THEN 1 ELSE 0 END AS res
            FROM portal_batch b
            JOIN ref_period_unit_key k ON k.period = b.period AND k.unit_code = b.unit_code
            LEFT JOIN fact_dossier f ON f.period = b.period AND f.unit_code = b.unit_code
            LEFT JOIN portal_status_rule r ON r.period = b.period AND r.status = f.trang_thai_ho_so
            WHERE b.period = :period AND b.loaded_at IS NOT NULL
        ) d
        GROUP BY d.key_code
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
      AND NOT EXISTS (
          SELECT 1
          FROM ref_period_unit_key m
          JOIN ref_unit u ON u.unit_code = m.unit_code
          WHERE m.period = :period AND m.key_code = s.unit_code
            AND u.valid_from <= :last_day AND (u.valid_to IS NULL OR u.valid_to >= :first_day)
            AND NOT EXISTS (SELECT 1 FROM portal_batch b2
                            WHERE b2.period = :period AND b2.unit_code = m.unit_code AND b2.loaded_at IS NOT NULL))
) x
WHERE x.numerator IS NOT NULL;

-- Figures of the counting submissions, under canonical codes (NQ02-5 is stored as NQ01-5).
DELETE FROM core_unit_indicator WHERE period = :period AND source = 'shared_drive';

INSERT INTO core_unit_indicator (period, unit_code, indicator_code, source, numerator, denominator, file_hash, file_row)
SELECT c.period, c.unit_code, COALESCE(i.alias_of, r.indicator_code), 'shared_drive',
       MAX(CAST(r.numerator_text AS BIGINT)), MAX(CAST(r.denominator_text AS BIGINT)),
       c.file_hash, MIN(r.row_ref)
FROM core_submission c
JOIN stg_submission_row r ON r.file_hash = c.file_hash
JOIN ref_indicator i ON i.indicator_code = r.indicator_code
WHERE c.period = :period
GROUP BY c.period, c.unit_code, COALESCE(i.alias_of, r.indicator_code), c.file_hash;

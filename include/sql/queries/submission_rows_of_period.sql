SELECT r.file_hash, r.row_number, r.row_ref, r.indicator_code, r.numerator_text, r.denominator_text,
       r.rate, r.rate_text, r.cells
FROM stg_submission_row r
JOIN stg_submission s ON s.file_hash = r.file_hash
WHERE s.period = :period
ORDER BY r.file_hash, r.row_number;

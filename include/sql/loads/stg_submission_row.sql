-- The rows of a parsed submission (one parameter set per row).
INSERT INTO stg_submission_row (file_hash, row_number, row_ref, indicator_code, numerator_text,
    denominator_text, rate, rate_text, note, cells)
VALUES (:h, :row_number, :row_ref, :indicator_code, :numerator_text, :denominator_text, :rate,
    :rate_text, :note, :cells);

-- A staged submission whose file could not be parsed, with the reasons.
INSERT INTO stg_submission (file_hash, file_kind, unit_code, period, parse_outcome, parse_reasons)
VALUES (:h, :kind, :unit, :period, 'rejected', :reasons);

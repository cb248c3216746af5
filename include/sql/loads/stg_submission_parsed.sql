-- A staged submission parsed from its file.
INSERT INTO stg_submission (file_hash, file_kind, unit_code, unit_cell, period, parse_outcome, warnings, columns_found)
VALUES (:h, :kind, :unit, :cell, :period, 'parsed', :warnings, :cols);

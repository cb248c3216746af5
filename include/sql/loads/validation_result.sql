-- The validation verdict of each submission of the period (one parameter set per file).
INSERT INTO validation_result (file_hash, period, outcome, reasons, expectations_total, expectations_failed, result_path)
VALUES (:file_hash, :period, :outcome, :reasons, :total, :failed, :result_path);

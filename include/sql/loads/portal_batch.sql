-- The outcome of a portal batch attempt (period, unit).
INSERT INTO portal_batch (period, unit_code, outcome, reasons, records_fetched, dossiers, procedures,
    archive_path, attempted_at, loaded_at)
VALUES (:period, :unit_code, :outcome, :reasons, :records_fetched, :dossiers, :procedures,
    :archive_path, :attempted_at, :loaded_at);

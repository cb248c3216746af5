-- Drop a portal batch's (period, unit) dossier and procedure facts before they are replaced.
DELETE FROM fact_dossier WHERE period = :period AND unit_code = :unit_code;
DELETE FROM fact_procedure WHERE period = :period AND unit_code = :unit_code;

-- The catalogue's units (one parameter set per unit).
INSERT INTO ref_unit (unit_code, name, unit_type, gso_code, valid_from, valid_to, successor_code)
VALUES (:code, :name, :unit_type, :gso_code, :valid_from, :valid_to, :successor_code);

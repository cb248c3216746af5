-- The catalogue's yearly targets (one parameter set per target).
INSERT INTO ref_target (indicator_code, year, comparator, target_pct, stretch_pct)
VALUES (:indicator_code, :year, :comparator, :target_pct, :stretch_pct);

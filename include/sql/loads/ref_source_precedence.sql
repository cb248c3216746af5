-- The catalogue's source precedence (one parameter set per source).
INSERT INTO ref_source_precedence (source, rank, note)
VALUES (:source, :rank, :note);

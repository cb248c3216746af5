-- Empty ref_source_precedence before the catalogue's source precedence is loaded again.
DELETE FROM ref_source_precedence;

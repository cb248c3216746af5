-- Empty ref_unit before the catalogue's units are loaded again.
DELETE FROM ref_unit;

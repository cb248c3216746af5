-- Empty ref_target before the catalogue's targets are loaded again.
DELETE FROM ref_target;

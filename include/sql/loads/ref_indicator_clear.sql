-- Empty ref_indicator before the catalogue's indicators are loaded again.
DELETE FROM ref_indicator;

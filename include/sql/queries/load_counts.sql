-- How many core submissions and core figures a period has after loading.
SELECT (SELECT COUNT(*) FROM core_submission WHERE period = :p) AS submissions,
       (SELECT COUNT(*) FROM core_unit_indicator WHERE period = :p) AS figures;

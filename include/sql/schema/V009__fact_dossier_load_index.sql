-- fact_dossier keeps only the index its writes and its counting need: the primary key (period,
-- unit_code, ma_ho_so) serves the per unit-period replace and the counting scan. The index on
-- ma_ho_so alone (V003: tracing one dossier across the fetches that returned it) served no query of
-- the pipeline and cost every load about 30 % of its insert time (1.7 s per 1,000,000 dossiers on
-- SQLite, bench/README.md); tracing a dossier is an occasional ad-hoc query, and a scan of a
-- district's dossiers (tens of thousands a year) answers it in milliseconds.
DROP INDEX IF EXISTS ix_fact_dossier_ma_ho_so;

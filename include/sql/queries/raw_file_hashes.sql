-- Every content version already archived (by hash): those are never parsed again.
SELECT file_hash FROM raw_file;

-- Whether this content (by hash) was already archived.
SELECT 1 AS known FROM raw_file WHERE file_hash = :h;

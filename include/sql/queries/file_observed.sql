-- Whether this path was already recorded with this content and mtime (by a parallel ingest).
SELECT 1 AS observed FROM file_observation WHERE path = :path AND file_hash = :h AND mtime = :mtime;

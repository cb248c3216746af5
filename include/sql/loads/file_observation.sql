-- A path seen on the shared drive with this content, size and mtime.
INSERT INTO file_observation (path, file_hash, size_bytes, mtime, first_seen_at)
VALUES (:path, :h, :size, :mtime, :seen);

-- A path seen on the shared drive with this content, size and mtime, and the time it counts as received.
INSERT INTO file_observation (path, file_hash, size_bytes, mtime, first_seen_at, received_at)
VALUES (:path, :h, :size, :mtime, :seen, :received);

-- A new archived file version.
INSERT INTO raw_file (file_hash, size_bytes, archive_path, first_seen_at)
VALUES (:h, :size, :archive, :seen);

-- Record (or re-record) a skipped shared-drive file and why it was skipped.
DELETE FROM ignored_file WHERE path = :path;
INSERT INTO ignored_file (path, size_bytes, mtime, reason)
VALUES (:path, :size, :mtime, :reason);

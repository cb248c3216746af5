-- Files skipped on the shared drive, with the size, mtime and reason they had when skipped.
SELECT path, size_bytes, mtime, reason FROM ignored_file;

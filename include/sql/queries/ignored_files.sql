-- Files skipped on the shared drive, with the size and mtime they had when skipped.
SELECT path, size_bytes, mtime FROM ignored_file;

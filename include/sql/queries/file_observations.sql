-- Every (path, size, mtime) already recorded, to skip unchanged files on the shared drive.
SELECT path, size_bytes, mtime FROM file_observation;

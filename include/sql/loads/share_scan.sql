-- A scan of the share that read every file it found: evidence that a file first seen later was not there.
INSERT INTO share_scan (started_at, finished_at) VALUES (:started, :finished);

-- When the latest complete scan of the share began (NULL before the first).
SELECT MAX(started_at) AS started_at FROM share_scan;

-- A submission's time is its file's modification time, but never later than when the pipeline first
-- saw it, and never earlier than the last complete scan of the share before that sighting (the file
-- was not there then). Decided per sighting at ingest (file_observation.received_at); a version's time
-- is its earliest sighting's. README "Decisions": Deadline and `late`.

-- Scans of the share that read every file they found (none left for the next run).
CREATE TABLE share_scan (
    started_at TEXT PRIMARY KEY,
    finished_at TEXT NOT NULL
);

ALTER TABLE file_observation ADD COLUMN received_at TEXT;

-- Sightings recorded before this rule: no scan history, so the modification time, capped at first sight.
UPDATE file_observation SET received_at = CASE WHEN mtime < first_seen_at THEN mtime ELSE first_seen_at END;

DROP VIEW core_submission_version;

-- Versions of each unit's submission per period with their outcome and time (see above).
CREATE VIEW core_submission_version AS
SELECT v.period, s.unit_code, v.file_hash, v.outcome, v.reasons,
       MIN(o.received_at) AS received_at, MIN(o.path) AS file_path
FROM validation_result v
JOIN stg_submission s ON s.file_hash = v.file_hash
JOIN file_observation o ON o.file_hash = v.file_hash
GROUP BY v.period, s.unit_code, v.file_hash, v.outcome, v.reasons;

{{ config(refresh='schema') }}
-- Versions of each unit's submission per period with their outcome and time: a version's time is its
-- earliest sighting's received_at (the file's mtime, never later than when the pipeline first saw it,
-- never earlier than the last complete scan without it; V006, README "Decisions").
{{ replace_view('core_submission_version') }}
SELECT v.period, s.unit_code, v.file_hash, v.outcome, v.reasons,
       MIN(o.received_at) AS received_at, MIN(o.path) AS file_path
FROM validation_result v
JOIN stg_submission s ON s.file_hash = v.file_hash
JOIN file_observation o ON o.file_hash = v.file_hash
GROUP BY v.period, s.unit_code, v.file_hash, v.outcome, v.reasons;

{{ config(refresh='schema') }}
-- Versions of each unit's submission per period with their outcome; a version's time is when its
-- content first appeared on the share (its earliest modification time).
{{ replace_view('core_submission_version') }}
SELECT v.period, s.unit_code, v.file_hash, v.outcome, v.reasons,
       MIN(o.mtime) AS received_at, MIN(o.path) AS file_path
FROM validation_result v
JOIN stg_submission s ON s.file_hash = v.file_hash
JOIN file_observation o ON o.file_hash = v.file_hash
GROUP BY v.period, s.unit_code, v.file_hash, v.outcome, v.reasons;

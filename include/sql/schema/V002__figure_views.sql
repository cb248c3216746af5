-- Every figure under every code it is shown under: NQ02-5 repeats NQ01-5 (the plan lists it twice).
CREATE VIEW core_figure AS
SELECT c.period, c.unit_code, c.indicator_code, c.source, c.numerator, c.denominator, c.file_hash, c.file_row
FROM core_unit_indicator c
UNION ALL
SELECT c.period, c.unit_code, a.indicator_code, c.source, c.numerator, c.denominator, c.file_hash, c.file_row
FROM core_unit_indicator c
JOIN ref_indicator a ON a.alias_of = c.indicator_code;

-- The figure that counts where a unit has two sources: the portal's (what happened) over the self-report.
CREATE VIEW core_effective_figure AS
SELECT f.*
FROM core_figure f
WHERE f.source = 'portal'
   OR NOT EXISTS (
        SELECT 1 FROM core_figure p
        WHERE p.period = f.period AND p.unit_code = f.unit_code
          AND p.indicator_code = f.indicator_code AND p.source = 'portal');

-- Versions of each unit's submission per period with their outcome; a version's time is when its
-- content first appeared on the share (its earliest modification time).
CREATE VIEW core_submission_version AS
SELECT v.period, s.unit_code, v.file_hash, v.outcome, v.reasons,
       MIN(o.mtime) AS received_at, MIN(o.path) AS file_path
FROM validation_result v
JOIN stg_submission s ON s.file_hash = v.file_hash
JOIN file_observation o ON o.file_hash = v.file_hash
GROUP BY v.period, s.unit_code, v.file_hash, v.outcome, v.reasons;

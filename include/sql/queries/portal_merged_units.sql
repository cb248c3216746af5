-- Loaded portal batches of the period that do not count under their own unit (the reorganisation:
-- units fetched because they existed during the period, no longer expected at its end):
-- counted_under = the successor whose portal figures include them (models/ref_period_unit_key), or
-- NULL for a unit without one (an abolished department), whose dossiers are kept but counted nowhere.
SELECT b.unit_code, CASE WHEN k.key_code <> b.unit_code THEN k.key_code END AS counted_under, b.dossiers
FROM portal_batch b
JOIN ref_period_unit_key k ON k.period = b.period AND k.unit_code = b.unit_code
WHERE b.period = :period AND b.loaded_at IS NOT NULL
  AND ((k.key_code <> b.unit_code
        AND EXISTS (SELECT 1 FROM core_unit_indicator c
                    WHERE c.period = b.period AND c.unit_code = k.key_code AND c.source = 'portal'))
    OR (k.key_code = b.unit_code AND k.key_expected = 0 AND b.dossiers > 0))
ORDER BY CASE WHEN k.key_code <> b.unit_code THEN 0 ELSE 1 END, k.key_code, b.unit_code;

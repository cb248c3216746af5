-- Units whose self-reported rate differs from the portal's by more than the given number of percentage points
-- (spec "Source 2": the portal figure counts, the office checks the difference). Canonical codes
-- only (NQ02-5 is NQ01-5). 0/0 on either side is not compared. The threshold is tested on whole
-- numbers (|sn·pd − pn·sd|·100 > points·sd·pd) so a difference of exactly 5 points is not listed
-- because of floating-point noise.
DELETE FROM mart_reconciliation WHERE period = :period;

INSERT INTO mart_reconciliation (
    period, unit_code, indicator_code, self_numerator, self_denominator, self_value_pct,
    portal_numerator, portal_denominator, portal_value_pct, difference_points)
SELECT s.period, s.unit_code, s.indicator_code,
       s.numerator, s.denominator, {{ rate('s.numerator', 's.denominator') }},
       p.numerator, p.denominator, {{ rate('p.numerator', 'p.denominator') }},
       {{ rate('s.numerator', 's.denominator') }} - {{ rate('p.numerator', 'p.denominator') }}
FROM core_unit_indicator s
JOIN core_unit_indicator p
  ON p.period = s.period AND p.unit_code = s.unit_code
 AND p.indicator_code = s.indicator_code AND p.source = 'portal'
WHERE s.period = :period AND s.source = 'shared_drive'
  AND s.denominator > 0 AND p.denominator > 0
  AND ABS(s.numerator * p.denominator - p.numerator * s.denominator) * 100 > :points * s.denominator * p.denominator;

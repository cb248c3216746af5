{{ config(refresh='period') }}
-- Units as of the period (the reorganisation of 01/07/2025): a unit no longer expected in the period
-- whose successor is counts under its successor (a new commune's year to date includes the old
-- communes merged into it); every other unit counts under its own code. The unit code, never the
-- GSO code, is the key: new Vĩnh Thủy (XM-19405) and old Vĩnh Lâm (X-19405) share GSO 19405 and
-- stay two units.
DELETE FROM ref_period_unit_key WHERE period = :period;

INSERT INTO ref_period_unit_key (period, unit_code, key_code, key_expected)
SELECT :period, u.unit_code, k.key_code,
       CASE WHEN k.key_code IN (SELECT x.unit_code FROM ref_period_unit_indicator x WHERE x.period = :period)
            THEN 1 ELSE 0 END
FROM ref_unit u
JOIN (
    SELECT u2.unit_code,
           CASE WHEN u2.successor_code IS NOT NULL
                 AND u2.unit_code NOT IN (SELECT x.unit_code FROM ref_period_unit_indicator x WHERE x.period = :period)
                 AND u2.successor_code IN (SELECT x.unit_code FROM ref_period_unit_indicator x WHERE x.period = :period)
                THEN u2.successor_code ELSE u2.unit_code END AS key_code
    FROM ref_unit u2
) k ON k.unit_code = u.unit_code;

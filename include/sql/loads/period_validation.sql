-- Start a period's validation run afresh (files first seen after validated_from are not in it).
DELETE FROM validation_result WHERE period = :period;
DELETE FROM period_validation WHERE period = :period;
INSERT INTO period_validation (period, validated_from) VALUES (:period, :started);

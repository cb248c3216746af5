-- PostgreSQL only (stage.py): models/portal_unit_indicator is planned from the tables' statistics;
-- just after a period's loads they can be those of empty tables, and the plan then checks every
-- unit's batch once per scope row (1.5 s instead of 0.3 s for 100 units). The small tables it
-- joins, analysed first (milliseconds). SQLite plans without statistics.
ANALYZE portal_batch, ref_period_unit_key, ref_unit, portal_indicator_scope, fact_procedure, portal_status_rule;

-- How many discrepancies the period's reconciliation mart lists.
SELECT COUNT(*) AS discrepancies FROM mart_reconciliation WHERE period = :period;

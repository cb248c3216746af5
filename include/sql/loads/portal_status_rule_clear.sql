DELETE FROM portal_status_rule WHERE period = :period;

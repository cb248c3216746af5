-- One TrangThaiHoSo's counting rule for the period (one parameter set per status).
INSERT INTO portal_status_rule (period, status, resolved, withdrawn)
VALUES (:period, :status, :resolved, :withdrawn);

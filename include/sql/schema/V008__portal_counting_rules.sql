-- How a period's portal figures were counted, as the settings said when they were computed
-- (TTHC_RESOLVED_STATUSES, TTHC_WITHDRAWN_STATUSES: rules provincial systems differ on), one row
-- per TrangThaiHoSo 1..10. resolved: a dossier in this status with an end date in the period counts
-- as resolved; withdrawn: it counts as neither received nor resolved.
CREATE TABLE portal_status_rule (
    period TEXT NOT NULL,
    status SMALLINT NOT NULL,
    resolved SMALLINT NOT NULL,
    withdrawn SMALLINT NOT NULL,
    PRIMARY KEY (period, status)
);

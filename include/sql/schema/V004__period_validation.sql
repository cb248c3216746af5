-- When each period's last validation began: files first seen later are not in its figures yet.
CREATE TABLE period_validation (
    period TEXT PRIMARY KEY,
    validated_from TEXT NOT NULL
);

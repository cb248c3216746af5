-- Which source's figure counts where a unit has several (core_effective_figure, the report's unit
-- figures): the catalogue's source_precedence.csv, rank 1 first, refreshed with the rest of the
-- catalogue on every load. Seeded with the rule the views applied until now (the portal over the
-- self-report), so an upgraded warehouse counts the same until its next load.
CREATE TABLE ref_source_precedence (
    source TEXT PRIMARY KEY,
    rank INTEGER NOT NULL UNIQUE,
    note TEXT
);

INSERT INTO ref_source_precedence (source, rank, note) VALUES ('portal', 1, NULL), ('shared_drive', 2, NULL);

-- One counter that every change to the catalogue (items) increments, in the same transaction:
-- how a worker's item cache learns, with one primary-key read a second, that another process
-- changed an item (server/item_cache.py). A single row, so the read costs the same for ten
-- items or ten million.

CREATE TABLE catalogue_version (
    id      INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    version BIGINT  NOT NULL
);
INSERT INTO catalogue_version (id, version) VALUES (1, 0);

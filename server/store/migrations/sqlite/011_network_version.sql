-- One counter that every change to nodes or rate tables increments, in the same transaction:
-- how each process's network cache learns, with one primary-key read a second, that another
-- process (a worker, another machine) changed the network (server/network_cache.py).
-- It replaces COUNT and MAX(updated_at) over the two tables, which missed a write stamped
-- earlier than the latest one: by a machine whose clock runs behind, or by a transaction that
-- committed after a later-stamped one. Such a change was never seen by any other process.

CREATE TABLE network_version (
    id      INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    version BIGINT  NOT NULL
);
INSERT INTO network_version (id, version) VALUES (1, 0);

-- Time as network data (docs/promise.md): holiday calendars, carrier services and node schedules,
-- loaded with the network. Each row is one whole object as JSON (the network file's own fields),
-- always read and written whole, like rate tables. Holidays are stored as dates: a schedule or a
-- service that names a holiday calendar takes its dates when it is written.
-- No carrier service rows means the services of the stored rate tables (or the defaults) are in
-- force; once any is stored, the stored ones are the whole set and must serve STANDARD. A node
-- without a schedule row has the default schedule (UTC, every day, every service at 23:59).
-- Changes bump network_version (011) in the same transaction, as node and rate-table writes do.
-- Self-contained (touches no other table), so it can be renumbered at a merge.

CREATE TABLE holiday_calendars (
    id         TEXT NOT NULL PRIMARY KEY,
    dates      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE carrier_services (
    id         TEXT NOT NULL PRIMARY KEY,
    body       TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE node_schedules (
    node_id    TEXT NOT NULL PRIMARY KEY,
    body       TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Carrier rate tables, one per service level (engine/rates.py RateTable), loaded with the
-- network. No rows means the cost model's defaults (STANDARD and EXPRESS); once any table is
-- stored, the stored ones are the whole set, and the store refuses a write that would leave
-- it without STANDARD. Zones are JSON arrays (limits in miles; base and per-lb rates in major
-- currency units, like the nodes' costs): a table is always read and written whole.
-- Self-contained (touches no other table), so it can be renumbered at a merge.

CREATE TABLE rate_tables (
    service_level     TEXT NOT NULL PRIMARY KEY,
    zone_limits_miles TEXT NOT NULL,
    base              TEXT NOT NULL,
    per_lb            TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);

-- The network (nodes), the catalogue (items) and stock per (sku, node).
-- Timestamps are ISO-8601 UTC text with microseconds ('2025-01-31T12:00:00.000000Z'),
-- fixed width so they compare as text in time order. JSON columns hold JSON text.

CREATE TABLE nodes (
    id                 TEXT    NOT NULL PRIMARY KEY,
    type               TEXT    NOT NULL,
    name               TEXT    NOT NULL DEFAULT '',
    region             TEXT    NOT NULL DEFAULT '',
    lat                REAL    NOT NULL,
    lon                REAL    NOT NULL,
    pick_pack_cost     REAL    NOT NULL,
    unit_handling_cost REAL    NOT NULL,
    max_shipments      INTEGER,
    max_units          INTEGER,
    can_ship           INTEGER NOT NULL CHECK (can_ship IN (0, 1)),
    can_pickup         INTEGER NOT NULL CHECK (can_pickup IN (0, 1)),
    is_open            INTEGER NOT NULL CHECK (is_open IN (0, 1)),
    tags               TEXT    NOT NULL DEFAULT '[]',
    updated_at         TEXT    NOT NULL
);

CREATE TABLE items (
    sku            TEXT    NOT NULL PRIMARY KEY,
    unit_weight_lb REAL    NOT NULL,
    length_in      REAL    NOT NULL DEFAULT 0,
    width_in       REAL    NOT NULL DEFAULT 0,
    height_in      REAL    NOT NULL DEFAULT 0,
    hazmat         INTEGER NOT NULL CHECK (hazmat IN (0, 1)),
    tags           TEXT    NOT NULL DEFAULT '[]',
    attributes     TEXT    NOT NULL DEFAULT '{}',
    updated_at     TEXT    NOT NULL
);

-- No foreign key to items: counts may arrive before the catalogue entry does.
CREATE TABLE inventory (
    sku        TEXT    NOT NULL,
    node_id    TEXT    NOT NULL REFERENCES nodes (id),
    on_hand    INTEGER NOT NULL DEFAULT 0,
    reserved   INTEGER NOT NULL DEFAULT 0,
    protected  INTEGER NOT NULL DEFAULT 0,
    version    INTEGER NOT NULL DEFAULT 0,
    as_of      TEXT,
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (sku, node_id),
    -- The backstop under every conditional write: stock can never be promised twice.
    CONSTRAINT inventory_on_hand_non_negative CHECK (on_hand >= 0),
    CONSTRAINT inventory_reserved_non_negative CHECK (reserved >= 0),
    CONSTRAINT inventory_protected_non_negative CHECK (protected >= 0),
    CONSTRAINT inventory_reserved_within_on_hand CHECK (reserved <= on_hand)
);

CREATE INDEX inventory_node_id ON inventory (node_id);

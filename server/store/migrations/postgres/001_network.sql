-- The network (nodes), the catalogue (items) and stock per (sku, node).
-- Keys are COLLATE "C" so ORDER BY and keyset pagination follow code-point order,
-- as SQLite and Python do, whatever the database's default collation.
-- JSON columns hold JSON text (the same values SQLite stores).

CREATE TABLE nodes (
    id                 TEXT COLLATE "C"  NOT NULL PRIMARY KEY,
    type               TEXT              NOT NULL,
    name               TEXT              NOT NULL DEFAULT '',
    region             TEXT              NOT NULL DEFAULT '',
    lat                DOUBLE PRECISION  NOT NULL,
    lon                DOUBLE PRECISION  NOT NULL,
    pick_pack_cost     DOUBLE PRECISION  NOT NULL,
    unit_handling_cost DOUBLE PRECISION  NOT NULL,
    max_shipments      BIGINT,
    max_units          BIGINT,
    can_ship           BOOLEAN           NOT NULL,
    can_pickup         BOOLEAN           NOT NULL,
    is_open            BOOLEAN           NOT NULL,
    tags               TEXT              NOT NULL DEFAULT '[]',
    updated_at         TIMESTAMPTZ       NOT NULL
);

CREATE TABLE items (
    sku            TEXT COLLATE "C"  NOT NULL PRIMARY KEY,
    unit_weight_lb DOUBLE PRECISION  NOT NULL,
    length_in      DOUBLE PRECISION  NOT NULL DEFAULT 0,
    width_in       DOUBLE PRECISION  NOT NULL DEFAULT 0,
    height_in      DOUBLE PRECISION  NOT NULL DEFAULT 0,
    hazmat         BOOLEAN           NOT NULL,
    tags           TEXT              NOT NULL DEFAULT '[]',
    attributes     TEXT              NOT NULL DEFAULT '{}',
    updated_at     TIMESTAMPTZ       NOT NULL
);

-- No foreign key to items: counts may arrive before the catalogue entry does.
CREATE TABLE inventory (
    sku        TEXT COLLATE "C" NOT NULL,
    node_id    TEXT COLLATE "C" NOT NULL REFERENCES nodes (id),
    on_hand    BIGINT           NOT NULL DEFAULT 0,
    reserved   BIGINT           NOT NULL DEFAULT 0,
    protected  BIGINT           NOT NULL DEFAULT 0,
    version    BIGINT           NOT NULL DEFAULT 0,
    as_of      TIMESTAMPTZ,
    updated_at TIMESTAMPTZ      NOT NULL,
    PRIMARY KEY (sku, node_id),
    -- The backstop under every conditional write: stock can never be promised twice.
    CONSTRAINT inventory_on_hand_non_negative CHECK (on_hand >= 0),
    CONSTRAINT inventory_reserved_non_negative CHECK (reserved >= 0),
    CONSTRAINT inventory_protected_non_negative CHECK (protected >= 0),
    CONSTRAINT inventory_reserved_within_on_hand CHECK (reserved <= on_hand)
);

CREATE INDEX inventory_node_id ON inventory (node_id);

-- Orders and what happens to them: lines, reservations, shipments, the audit trail
-- and the idempotency keys whose stored response commits with its effects.

CREATE TABLE orders (
    order_id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    request          TEXT             NOT NULL,      -- the caller's request, JSON
    state            TEXT             NOT NULL,
    rule_set_version TEXT             NOT NULL DEFAULT '',
    decision         TEXT,                           -- the latest decision, JSON
    version          BIGINT           NOT NULL DEFAULT 0,  -- bumped on every change: compare-and-set transitions
    created_at       TIMESTAMPTZ      NOT NULL,
    updated_at       TIMESTAMPTZ      NOT NULL
);

CREATE INDEX orders_state_updated_at ON orders (state, updated_at);

CREATE TABLE order_lines (
    order_id   TEXT COLLATE "C" NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    line_id    TEXT COLLATE "C" NOT NULL,
    sku        TEXT COLLATE "C" NOT NULL,
    qty        BIGINT           NOT NULL CHECK (qty > 0),
    attributes TEXT             NOT NULL DEFAULT '{}',
    PRIMARY KEY (order_id, line_id)
);

-- One hold per (line, node): a line split over nodes has one row per node.
CREATE TABLE reservations (
    order_id   TEXT COLLATE "C" NOT NULL,
    line_id    TEXT COLLATE "C" NOT NULL,
    node_id    TEXT COLLATE "C" NOT NULL REFERENCES nodes (id),
    sku        TEXT COLLATE "C" NOT NULL,
    qty        BIGINT           NOT NULL CHECK (qty > 0),
    expires_at TIMESTAMPTZ      NOT NULL,
    state      TEXT             NOT NULL,
    created_at TIMESTAMPTZ      NOT NULL,
    updated_at TIMESTAMPTZ      NOT NULL,
    PRIMARY KEY (order_id, line_id, node_id),
    FOREIGN KEY (order_id, line_id) REFERENCES order_lines (order_id, line_id) ON DELETE CASCADE
);

CREATE INDEX reservations_sku_node ON reservations (sku, node_id, state);
CREATE INDEX reservations_state_expires_at ON reservations (state, expires_at);

CREATE TABLE shipments (
    shipment_id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    order_id    TEXT COLLATE "C" NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    node_id     TEXT COLLATE "C" NOT NULL REFERENCES nodes (id),
    state       TEXT             NOT NULL,
    payload     TEXT             NOT NULL DEFAULT '{}',  -- lines and units shipped, JSON
    created_at  TIMESTAMPTZ      NOT NULL,
    updated_at  TIMESTAMPTZ      NOT NULL
);

CREATE INDEX shipments_order_id ON shipments (order_id);

-- Append-only audit trail. Identity values are unique and increasing per session,
-- not gap-free (and on distributed databases not globally ordered).
CREATE TABLE events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id   TEXT COLLATE "C",                     -- NULL for events about no order (rule activation)
    type       TEXT        NOT NULL,
    payload    TEXT        NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX events_order_id ON events (order_id, id);

CREATE TABLE idempotency_keys (
    key          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    method       TEXT             NOT NULL,
    request_hash TEXT             NOT NULL,
    response     BYTEA,                              -- NULL while the first call is in flight
    created_at   TIMESTAMPTZ      NOT NULL
);

CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);

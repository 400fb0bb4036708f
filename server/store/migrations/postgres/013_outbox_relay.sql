-- The outbox relay's durable state: the events table is the transactional outbox (every order
-- change appends its event in the change's own transaction); a relay publishes the numbered
-- events (events.seq) to a broker in seq order and records here how far the broker has
-- acknowledged them, together with the lease that lets exactly one relay publish at a time.
-- position:    events.seq of the last event the broker acknowledged; only ever moves forward.
-- holder:      the relay process holding the lease ('' when none ever did).
-- lease_until: epoch milliseconds; the holder must renew before then or another relay takes over.
-- One row per broker destination (name 'nats'); rows are made by the relay when missing.

CREATE TABLE outbox_relay (
    name        TEXT   NOT NULL PRIMARY KEY,
    position    BIGINT NOT NULL DEFAULT 0,
    holder      TEXT   NOT NULL DEFAULT '',
    lease_until BIGINT NOT NULL DEFAULT 0,
    updated_at  BIGINT NOT NULL DEFAULT 0
);

-- Issue #21, integrations: how a shipment left, and the webhook dispatcher's dead letters.
--
-- shipments: the carrier, its service and the tracking number ConfirmShipment gave ('' when
-- none), and when the parcel was handed over (NULL for shipments recorded before this).
ALTER TABLE shipments ADD COLUMN carrier TEXT NOT NULL DEFAULT '';
ALTER TABLE shipments ADD COLUMN carrier_service TEXT NOT NULL DEFAULT '';
ALTER TABLE shipments ADD COLUMN tracking_number TEXT NOT NULL DEFAULT '';
ALTER TABLE shipments ADD COLUMN shipped_at TEXT;

-- Events a webhook subscriber did not accept within its retry budget, for an operator to list
-- and replay (oms-sourcing webhooks dead-letters / replay). A subscriber's position and lease
-- are an outbox_relay row named 'webhook:<subscriber>'.
-- attempts:    deliveries tried; last_error: the last one's failure (status or exception).
-- dead_at:     epoch milliseconds; replayed_at: epoch milliseconds of the replay the receiver
--              accepted, NULL while the event is dead. While an order has a dead event for a
--              subscriber, its later events go here too (per-order order is kept).
CREATE TABLE webhook_dead_letters (
    subscriber  TEXT    NOT NULL,
    event_id    BIGINT  NOT NULL,
    event_seq   BIGINT  NOT NULL,
    order_id    TEXT    NOT NULL DEFAULT '',
    event_type  TEXT    NOT NULL,
    attempts    INTEGER NOT NULL,
    last_error  TEXT    NOT NULL DEFAULT '',
    dead_at     BIGINT  NOT NULL,
    replayed_at BIGINT,
    PRIMARY KEY (subscriber, event_id)
);

CREATE INDEX webhook_dead_letters_open ON webhook_dead_letters (subscriber, order_id) WHERE replayed_at IS NULL;

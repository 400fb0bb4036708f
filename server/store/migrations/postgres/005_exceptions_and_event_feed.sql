-- The exception queue and the event feed.
-- orders.holds: the rule holds (JSON list of [rule_id, reason]) of a HELD order; '' when none.
-- events.seq: the commit-ordered cursor WatchEvents hands out. Identity ids are taken at
-- INSERT, not at COMMIT, so a reader can see id 11 before id 10 commits; seq is written after
-- commit by the feed's sequencer under an advisory lock (server/store/event_feed.py), so a
-- cursor never skips an event that commits late. NULL until sequenced.

ALTER TABLE orders ADD COLUMN holds TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN seq BIGINT;

CREATE INDEX orders_state_created_at ON orders (state, created_at, order_id);
CREATE UNIQUE INDEX events_seq ON events (seq);
CREATE INDEX events_unsequenced ON events (id) WHERE seq IS NULL;

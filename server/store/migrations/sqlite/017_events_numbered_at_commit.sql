-- events.seq written by the event's own transaction. SQLite runs one writer at a time (its write
-- lock, which every process takes), so the order in which events are inserted is their commit
-- order: the next number at insert is the commit-ordered cursor the feed's sequencer would give it
-- after commit (server/store/event_feed.py). Numbering after commit cost a write transaction (an
-- fsync) per relay round, WatchEvents poll or webhook round, queued with the order writers; and a
-- relay in a process of its own waited for the write lock behind them (seconds, at Allocate's peak).
-- A rolled-back event takes its number with it; the next event takes the same number.

-- Events written before this migration: numbered first, in id order, as the sequencer would.
UPDATE events SET seq = numbered.n FROM (
    SELECT id, ROW_NUMBER() OVER (ORDER BY id) + (SELECT COALESCE(MAX(seq), 0) FROM events) AS n
    FROM events WHERE seq IS NULL
) AS numbered WHERE events.id = numbered.id;

CREATE TRIGGER events_number_at_commit AFTER INSERT ON events WHEN NEW.seq IS NULL BEGIN
    UPDATE events SET seq = (SELECT COALESCE(MAX(seq), 0) + 1 FROM events) WHERE id = NEW.id;
END;

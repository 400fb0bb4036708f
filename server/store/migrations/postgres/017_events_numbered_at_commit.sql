-- On SQLite, events are numbered by their own transaction from this migration on (its single
-- writer commits in insert order). Not here: concurrent PostgreSQL transactions commit in another
-- order than they insert, so the feed's sequencer numbers events after commit
-- (server/store/event_feed.py). The step exists so both dialects carry the same numbered migrations.

SELECT 1;

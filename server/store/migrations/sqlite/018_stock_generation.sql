-- PostgreSQL keeps a stock generation row bumped by every transaction writing inventory or
-- reservations. Not here: SQLite's own `PRAGMA data_version`, read on a connection that never
-- writes, changes at every commit to the file by any connection of any process, which is what
-- server/store/stock_view.py needs. The step exists so both dialects carry the same numbered
-- migrations.

SELECT 1;

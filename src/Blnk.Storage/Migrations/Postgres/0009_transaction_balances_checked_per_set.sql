-- The foreign keys from a transaction row to its source and destination checked each row and key on its own: a
-- locking lookup of balances from a trigger, 21 % of the writer backend's time under bulk load, which that one
-- backend bounds (docs/performance.md, 2026-11-27 evening). The writer's insert now checks the same thing once per
-- distinct balance of the whole set, in its one statement: a row naming no balance fails it, and with it the batch.
-- Balances are never deleted, so the rows need no lock on them. SQLite keeps its foreign keys (checked in process).
-- Dropping a foreign key only changes the catalog: it takes a brief lock and reads no rows.
ALTER TABLE transactions
    DROP CONSTRAINT transactions_source_fkey,
    DROP CONSTRAINT transactions_destination_fkey;

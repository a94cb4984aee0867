-- Foreign keys the writer's own statements already guarantee, dropped because each checked every row on its own
-- with a locking lookup from a trigger (docs/performance.md, 2026-11-27 evening):
-- * transactions to balances (source, destination): 21 % of the writer backend's time under bulk load, which that
--   one backend bounds. The writer's insert now checks the same thing once per distinct balance of the whole set,
--   in its one statement: a row naming no balance fails it, and with it the batch. Balances are never deleted, so
--   the rows need no lock on them.
-- * transaction_queue to transactions: an entry is inserted by selecting its row, so it cannot name a missing one,
--   and transaction rows are never deleted. The key's checks were a third of the queue insert's time (W6).
-- SQLite keeps its foreign keys (checked in process). Dropping a foreign key only changes the catalog: it takes a
-- brief lock and reads no rows.
ALTER TABLE transactions
    DROP CONSTRAINT transactions_source_fkey,
    DROP CONSTRAINT transactions_destination_fkey;
ALTER TABLE transaction_queue DROP CONSTRAINT transaction_queue_transaction_id_fkey;

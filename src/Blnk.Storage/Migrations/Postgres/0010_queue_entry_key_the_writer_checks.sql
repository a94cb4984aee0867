-- The queue entry's foreign key to its transaction row, dropped because it checked every entry on its own with a
-- locking lookup from a trigger: a third of the queue insert's time under queued load (docs/performance.md,
-- 2026-11-27 evening). An entry is inserted by selecting its row, and that statement fails unless it entered every
-- entry, so an entry cannot name a missing row; transaction rows are never deleted. SQLite keeps its key.
-- Dropping a foreign key only changes the catalog: it takes a brief lock and reads no rows.
-- IF EXISTS: builds that never shipped dropped it in their migration 0009.
ALTER TABLE transaction_queue DROP CONSTRAINT IF EXISTS transaction_queue_transaction_id_fkey;

-- GET /balances/{id}?with_queued=true counts the rows of an atomic group still queued under its group's single
-- entry. Without an index on group_id that join read the whole queue on every such request (8 ms for a backlog
-- of 50,000 entries, more while the drained entries awaited vacuum); with it, the join starts from the
-- balance's own rows. Partial: the entries of plain queued transactions (no group) cost it nothing.
CREATE INDEX transaction_queue_group_idx ON transaction_queue (group_id) WHERE group_id IS NOT NULL;

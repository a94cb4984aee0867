-- GET /balances/{id}?with_queued=true reads a balance's rows from the oldest queue entry on: no QUEUED row still
-- waiting is older. A SCHEDULED row's entry waits until its scheduled_for, and scheduled rows are not counted,
-- yet it held that bound back: one transaction scheduled a month ahead made every such read go through a month
-- of each balance's rows. The entry now says whether its row is scheduled, so the bound can pass over it.
ALTER TABLE transaction_queue ADD COLUMN scheduled INTEGER NOT NULL DEFAULT 0;
UPDATE transaction_queue SET scheduled = 1
WHERE transaction_id IN (SELECT transaction_id FROM transactions WHERE status = 'SCHEDULED');

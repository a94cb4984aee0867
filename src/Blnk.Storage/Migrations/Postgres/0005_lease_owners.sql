-- Who holds each lease: the process that claimed the row (a random key it takes for its lifetime). A lease
-- whose owner is gone (a crash) is free at once instead of when lease_until passes; see SqlDialect.LeaseFree.
ALTER TABLE transaction_queue ADD COLUMN lease_owner BIGINT;
ALTER TABLE inflight_actions ADD COLUMN lease_owner BIGINT;
ALTER TABLE webhook_outbox ADD COLUMN lease_owner BIGINT;
ALTER TABLE lineage_outbox ADD COLUMN lease_owner BIGINT;

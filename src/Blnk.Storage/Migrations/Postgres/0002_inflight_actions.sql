-- Inflight actions waiting to run: commit/void requests on the queued path, expiries
-- (inflight_expiry_date) and scheduled commits (inflight_commit_date). Durable: a restart loses none.
CREATE TABLE inflight_actions (
    action_id      TEXT PRIMARY KEY,
    transaction_id TEXT NOT NULL REFERENCES transactions (transaction_id),
    action         TEXT NOT NULL CHECK (action IN ('commit', 'void')),
    precise_amount NUMERIC,
    origin         TEXT NOT NULL CHECK (origin IN ('request', 'expiry', 'scheduled_commit')),
    available_at   TIMESTAMPTZ NOT NULL,
    lease_until    TIMESTAMPTZ NOT NULL
);
-- One pending action of each origin per hold: a second queued request is a conflict.
CREATE UNIQUE INDEX inflight_actions_origin_key ON inflight_actions (transaction_id, origin);
CREATE INDEX inflight_actions_due_idx ON inflight_actions (available_at);

-- An atomic group (split legs, atomic bulk) is queued as one entry; its legs share parent_transaction = group_id.
ALTER TABLE transaction_queue ADD COLUMN group_id TEXT;

-- Events for webhook delivery, written in the same database transaction as the change they report.
CREATE TABLE webhook_outbox (
    seq        BIGSERIAL PRIMARY KEY,
    event      TEXT NOT NULL,
    payload    JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

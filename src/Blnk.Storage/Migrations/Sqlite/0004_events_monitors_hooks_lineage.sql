-- Issue 5: webhook delivery state, balance monitors, transaction hooks and fund lineage.

-- Each outbox row is one delivery to one target: the global webhook ('webhook', url resolved from the
-- configuration at delivery time), a monitor's call_back_url ('callback') or a transaction hook ('hook').
-- Rows with the same entity_key are delivered in seq order; a row is done when delivered_at or dead_at is set.
-- SQLite cannot add CHECKed columns in place: the table is rebuilt and the events already recorded are kept
-- (they are delivered to the global webhook like new ones).
CREATE TABLE webhook_outbox_delivery (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    event        TEXT NOT NULL,
    payload      TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    target       TEXT NOT NULL DEFAULT 'webhook' CHECK (target IN ('webhook', 'callback', 'hook')),
    url          TEXT,
    hook_id      TEXT,
    entity_key   TEXT NOT NULL DEFAULT '',
    attempts     INTEGER NOT NULL DEFAULT 0,
    available_at INTEGER NOT NULL,
    lease_until  INTEGER NOT NULL,
    delivered_at INTEGER,
    dead_at      INTEGER,
    last_error   TEXT
);
INSERT INTO webhook_outbox_delivery (seq, event, payload, created_at, available_at, lease_until)
SELECT seq, event, payload, created_at, created_at, created_at FROM webhook_outbox;
DROP TABLE webhook_outbox;
ALTER TABLE webhook_outbox_delivery RENAME TO webhook_outbox;
CREATE INDEX webhook_outbox_pending_idx ON webhook_outbox (available_at, seq)
    WHERE delivered_at IS NULL AND dead_at IS NULL;
CREATE INDEX webhook_outbox_entity_idx ON webhook_outbox (target, entity_key, seq)
    WHERE delivered_at IS NULL AND dead_at IS NULL;

-- Every delivery attempt, successful or not.
CREATE TABLE webhook_attempts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    seq          INTEGER NOT NULL REFERENCES webhook_outbox (seq),
    attempt      INTEGER NOT NULL,
    attempted_at INTEGER NOT NULL,
    status_code  INTEGER,
    error        TEXT,
    duration_ms  INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_seq_idx ON webhook_attempts (seq);

CREATE TABLE balance_monitors (
    monitor_id    TEXT PRIMARY KEY,
    balance_id    TEXT NOT NULL REFERENCES balances (balance_id),
    field         TEXT NOT NULL CHECK (field IN ('debit_balance', 'credit_balance', 'balance',
                      'inflight_debit_balance', 'inflight_credit_balance', 'inflight_balance')),
    operator      TEXT NOT NULL CHECK (operator IN ('>', '<', '>=', '<=', '=', '!=')),
    value         REAL NOT NULL,
    precision     REAL NOT NULL,
    precise_value TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    call_back_url TEXT NOT NULL DEFAULT '',
    trigger       TEXT NOT NULL DEFAULT 'level' CHECK (trigger IN ('level', 'edge')),
    created_at    INTEGER NOT NULL
);
CREATE INDEX balance_monitors_balance_idx ON balance_monitors (balance_id);

CREATE TABLE hooks (
    hook_id      TEXT PRIMARY KEY,
    name         TEXT NOT NULL DEFAULT '',
    url          TEXT NOT NULL,
    type         TEXT NOT NULL CHECK (type IN ('PRE_TRANSACTION', 'POST_TRANSACTION')),
    active       INTEGER NOT NULL,
    timeout      INTEGER NOT NULL,
    retry_count  INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    last_run     INTEGER,
    last_success INTEGER NOT NULL DEFAULT 0
);

-- Which providers a tracked balance has money from, and where: the shadow balance of (identity, provider,
-- currency) and the aggregate of (identity, currency). created_at (then seq) orders FIFO and LIFO allocation.
CREATE TABLE lineage_mappings (
    seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
    balance_id           TEXT NOT NULL REFERENCES balances (balance_id),
    provider             TEXT NOT NULL,
    shadow_balance_id    TEXT NOT NULL REFERENCES balances (balance_id),
    aggregate_balance_id TEXT NOT NULL REFERENCES balances (balance_id),
    identity_id          TEXT NOT NULL REFERENCES identities (identity_id),
    created_at           INTEGER NOT NULL
);
CREATE UNIQUE INDEX lineage_mappings_balance_provider_key ON lineage_mappings (balance_id, provider);

-- Lineage work recorded with the transfer that causes it (contract §7). Rows are processed in seq order per
-- identity: a row is only claimed when no earlier unprocessed row names one of its identities, because an
-- identity's tracked balances share its shadow balances and an allocation reads them. processed_at is set in
-- the same database transaction as the shadow transactions the row causes, so each row takes effect once.
CREATE TABLE lineage_outbox (
    seq                     INTEGER PRIMARY KEY AUTOINCREMENT,
    transaction_id          TEXT NOT NULL UNIQUE REFERENCES transactions (transaction_id),
    lineage_type            TEXT NOT NULL CHECK (lineage_type IN ('credit', 'debit', 'shadow_commit', 'shadow_void')),
    source_balance_id       TEXT,
    source_identity_id      TEXT,
    destination_balance_id  TEXT,
    destination_identity_id TEXT,
    provider                TEXT,
    attempts                INTEGER NOT NULL DEFAULT 0,
    available_at            INTEGER NOT NULL,
    lease_until             INTEGER NOT NULL,
    processed_at            INTEGER,
    last_error              TEXT,
    created_at              INTEGER NOT NULL
);
CREATE INDEX lineage_outbox_pending_idx ON lineage_outbox (available_at, seq) WHERE processed_at IS NULL;
CREATE INDEX lineage_outbox_source_idx ON lineage_outbox (source_identity_id, seq) WHERE processed_at IS NULL;
CREATE INDEX lineage_outbox_destination_idx ON lineage_outbox (destination_identity_id, seq)
    WHERE processed_at IS NULL;

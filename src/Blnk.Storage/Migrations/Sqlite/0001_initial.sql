-- Ledgers, identities, balances, the append-only transaction log and the durable transaction queue.
-- Amounts are canonical decimal strings (exact, any size); times are Unix microseconds (UTC).
CREATE TABLE ledgers (
    ledger_id  TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    meta_data  TEXT
);
CREATE INDEX ledgers_created_at_idx ON ledgers (created_at DESC);
INSERT INTO ledgers (ledger_id, name, created_at, meta_data)
VALUES ('general_ledger_id', 'General Ledger', CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER), '{}');

CREATE TABLE identities (
    identity_id       TEXT PRIMARY KEY,
    identity_type     TEXT NOT NULL DEFAULT '',
    organization_name TEXT NOT NULL DEFAULT '',
    category          TEXT NOT NULL DEFAULT '',
    first_name        TEXT NOT NULL DEFAULT '',
    last_name         TEXT NOT NULL DEFAULT '',
    other_names       TEXT NOT NULL DEFAULT '',
    gender            TEXT NOT NULL DEFAULT '',
    email_address     TEXT NOT NULL DEFAULT '',
    phone_number      TEXT NOT NULL DEFAULT '',
    nationality       TEXT NOT NULL DEFAULT '',
    street            TEXT NOT NULL DEFAULT '',
    country           TEXT NOT NULL DEFAULT '',
    state             TEXT NOT NULL DEFAULT '',
    post_code         TEXT NOT NULL DEFAULT '',
    city              TEXT NOT NULL DEFAULT '',
    dob               INTEGER,
    created_at        INTEGER NOT NULL,
    meta_data         TEXT
);

CREATE TABLE balances (
    balance_id              TEXT PRIMARY KEY,
    indicator               TEXT,
    currency                TEXT NOT NULL,
    ledger_id               TEXT NOT NULL REFERENCES ledgers (ledger_id),
    identity_id             TEXT REFERENCES identities (identity_id),
    balance                 TEXT NOT NULL DEFAULT '0',
    credit_balance          TEXT NOT NULL DEFAULT '0',
    debit_balance           TEXT NOT NULL DEFAULT '0',
    inflight_balance        TEXT NOT NULL DEFAULT '0',
    inflight_credit_balance TEXT NOT NULL DEFAULT '0',
    inflight_debit_balance  TEXT NOT NULL DEFAULT '0',
    created_at              INTEGER NOT NULL,
    meta_data               TEXT,
    version                 INTEGER NOT NULL DEFAULT 0,
    track_fund_lineage      INTEGER NOT NULL DEFAULT 0,
    allocation_strategy     TEXT NOT NULL DEFAULT 'FIFO',
    CONSTRAINT balances_indicator_currency_key UNIQUE (indicator, currency)
);
CREATE INDEX balances_created_at_idx ON balances (created_at DESC);
CREATE INDEX balances_ledger_id_idx ON balances (ledger_id);
CREATE INDEX balances_identity_id_idx ON balances (identity_id);

CREATE TABLE transactions (
    seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
    transaction_id       TEXT NOT NULL UNIQUE,
    parent_transaction   TEXT NOT NULL DEFAULT '',
    source               TEXT NOT NULL REFERENCES balances (balance_id),
    destination          TEXT NOT NULL REFERENCES balances (balance_id),
    reference            TEXT NOT NULL,
    currency             TEXT NOT NULL,
    description          TEXT NOT NULL DEFAULT '',
    status               TEXT NOT NULL,
    hash                 TEXT NOT NULL,
    precise_amount       TEXT NOT NULL,
    precision            TEXT NOT NULL,
    overdraft_limit      REAL NOT NULL DEFAULT 0,
    allow_overdraft      INTEGER NOT NULL DEFAULT 0,
    inflight             INTEGER NOT NULL DEFAULT 0,
    skip_queue           INTEGER NOT NULL DEFAULT 0,
    atomic               INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    effective_date       INTEGER,
    scheduled_for        INTEGER,
    inflight_expiry_date INTEGER,
    inflight_commit_date INTEGER,
    meta_data            TEXT
);
CREATE UNIQUE INDEX transactions_reference_key ON transactions (reference);
CREATE INDEX transactions_parent_idx ON transactions (parent_transaction);
CREATE INDEX transactions_source_idx ON transactions (source);
CREATE INDEX transactions_destination_idx ON transactions (destination);

-- Rows are append-only: a state change is a new row; only meta_data may change in place.
CREATE TRIGGER transactions_append_only BEFORE UPDATE OF transaction_id, parent_transaction, source, destination,
    reference, currency, description, status, hash, precise_amount, precision, created_at ON transactions
BEGIN
    SELECT RAISE(ABORT, 'Cannot modify transaction data. Only meta_data can be updated.');
END;
CREATE TRIGGER transactions_no_delete BEFORE DELETE ON transactions
BEGIN
    SELECT RAISE(ABORT, 'Transactions are append-only.');
END;

-- Queued and scheduled transactions waiting to be applied: the queue is the database.
CREATE TABLE transaction_queue (
    transaction_id TEXT PRIMARY KEY REFERENCES transactions (transaction_id),
    seq            INTEGER NOT NULL,
    available_at   INTEGER NOT NULL,
    lease_until    INTEGER NOT NULL
);
CREATE INDEX transaction_queue_seq_idx ON transaction_queue (seq);

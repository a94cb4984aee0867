-- Ledgers, identities, balances, the append-only transaction log and the durable transaction queue.
CREATE TABLE ledgers (
    ledger_id  TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    meta_data  JSONB
);
CREATE INDEX ledgers_created_at_idx ON ledgers (created_at DESC);
INSERT INTO ledgers (ledger_id, name, created_at, meta_data)
VALUES ('general_ledger_id', 'General Ledger', now(), '{}');

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
    dob               TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL,
    meta_data         JSONB
);

CREATE TABLE balances (
    balance_id              TEXT PRIMARY KEY,
    indicator               TEXT,
    currency                TEXT NOT NULL,
    ledger_id               TEXT NOT NULL REFERENCES ledgers (ledger_id),
    identity_id             TEXT REFERENCES identities (identity_id),
    balance                 NUMERIC NOT NULL DEFAULT 0,
    credit_balance          NUMERIC NOT NULL DEFAULT 0,
    debit_balance           NUMERIC NOT NULL DEFAULT 0,
    inflight_balance        NUMERIC NOT NULL DEFAULT 0,
    inflight_credit_balance NUMERIC NOT NULL DEFAULT 0,
    inflight_debit_balance  NUMERIC NOT NULL DEFAULT 0,
    created_at              TIMESTAMPTZ NOT NULL,
    meta_data               JSONB,
    version                 BIGINT NOT NULL DEFAULT 0,
    track_fund_lineage      BOOLEAN NOT NULL DEFAULT FALSE,
    allocation_strategy     TEXT NOT NULL DEFAULT 'FIFO',
    CONSTRAINT balances_indicator_currency_key UNIQUE (indicator, currency),
    -- The ledger's invariants, held by the database as well as by the code.
    CONSTRAINT balances_balance_check CHECK (balance = credit_balance - debit_balance),
    CONSTRAINT balances_inflight_check CHECK (inflight_balance = inflight_credit_balance - inflight_debit_balance),
    CONSTRAINT balances_nonnegative_check CHECK (credit_balance >= 0 AND debit_balance >= 0
        AND inflight_credit_balance >= 0 AND inflight_debit_balance >= 0)
);
CREATE INDEX balances_created_at_idx ON balances (created_at DESC);
CREATE INDEX balances_ledger_id_idx ON balances (ledger_id);
CREATE INDEX balances_identity_id_idx ON balances (identity_id);

CREATE TABLE transactions (
    seq                  BIGSERIAL PRIMARY KEY,
    transaction_id       TEXT NOT NULL UNIQUE,
    parent_transaction   TEXT NOT NULL DEFAULT '',
    source               TEXT NOT NULL REFERENCES balances (balance_id),
    destination          TEXT NOT NULL REFERENCES balances (balance_id),
    reference            TEXT NOT NULL,
    currency             TEXT NOT NULL,
    description          TEXT NOT NULL DEFAULT '',
    status               TEXT NOT NULL,
    hash                 TEXT NOT NULL,
    precise_amount       NUMERIC NOT NULL,
    precision            NUMERIC NOT NULL,
    overdraft_limit      DOUBLE PRECISION NOT NULL DEFAULT 0,
    allow_overdraft      BOOLEAN NOT NULL DEFAULT FALSE,
    inflight             BOOLEAN NOT NULL DEFAULT FALSE,
    skip_queue           BOOLEAN NOT NULL DEFAULT FALSE,
    atomic               BOOLEAN NOT NULL DEFAULT FALSE,
    created_at           TIMESTAMPTZ NOT NULL,
    effective_date       TIMESTAMPTZ,
    scheduled_for        TIMESTAMPTZ,
    inflight_expiry_date TIMESTAMPTZ,
    inflight_commit_date TIMESTAMPTZ,
    meta_data            JSONB
);
CREATE UNIQUE INDEX transactions_reference_key ON transactions (reference);
CREATE INDEX transactions_parent_idx ON transactions (parent_transaction);
CREATE INDEX transactions_source_idx ON transactions (source);
CREATE INDEX transactions_destination_idx ON transactions (destination);

-- Rows are append-only: a state change is a new row; only meta_data may change in place.
CREATE FUNCTION transactions_append_only() RETURNS trigger AS $$
BEGIN
    IF (NEW.transaction_id, NEW.parent_transaction, NEW.source, NEW.destination, NEW.reference, NEW.currency,
        NEW.description, NEW.status, NEW.hash, NEW.precise_amount, NEW.precision, NEW.created_at)
       IS DISTINCT FROM
       (OLD.transaction_id, OLD.parent_transaction, OLD.source, OLD.destination, OLD.reference, OLD.currency,
        OLD.description, OLD.status, OLD.hash, OLD.precise_amount, OLD.precision, OLD.created_at) THEN
        RAISE EXCEPTION 'Cannot modify transaction data. Only meta_data can be updated.';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER transactions_append_only BEFORE UPDATE ON transactions
    FOR EACH ROW EXECUTE FUNCTION transactions_append_only();
CREATE RULE transactions_no_delete AS ON DELETE TO transactions DO INSTEAD NOTHING;

-- Queued and scheduled transactions waiting to be applied: the queue is the database.
CREATE TABLE transaction_queue (
    transaction_id TEXT PRIMARY KEY REFERENCES transactions (transaction_id),
    seq            BIGINT NOT NULL,
    available_at   TIMESTAMPTZ NOT NULL,
    lease_until    TIMESTAMPTZ NOT NULL
);
CREATE INDEX transaction_queue_seq_idx ON transaction_queue (seq);
